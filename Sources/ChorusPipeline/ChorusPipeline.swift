// ChorusPipeline: pipeline schedules as data, validator, simulator, timeline SVG.
