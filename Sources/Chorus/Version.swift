public enum ChorusVersion { public static let string = "0.1.0" }
