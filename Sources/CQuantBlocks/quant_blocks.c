// CQuantBlocks has no code: its header (include/quant_blocks.h) declares the block layouts. This
// file gives the target a source and compiles the header's size assertions once on their own.
#include "quant_blocks.h"
