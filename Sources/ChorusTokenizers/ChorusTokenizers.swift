// ChorusTokenizers: byte-level BPE, SentencePiece, chat templates.
