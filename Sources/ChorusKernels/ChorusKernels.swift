// ChorusKernels: SIMD dot products, GEMV/GEMM tiles, norms, RoPE, softmax. Every kernel takes the output rows it owns.
