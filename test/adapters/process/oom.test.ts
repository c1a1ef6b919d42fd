import { describe, expect, it } from 'vitest';
import { detectOom } from '../../../src-main/adapters/process/oom.js';

const failed = { exitCode: 1, signal: null, killedByUs: false };

describe('detectOom', () => {
  it.each([
    ['PyTorch', 'torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.63 GiB total capacity)', 'gpu'],
    ['CUDA runtime', 'RuntimeError: CUDA error: out of memory', 'gpu'],
    ['cuBLAS', 'CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate(handle)', 'gpu'],
    ['llama.cpp', 'ggml_backend_cuda_buffer_type_alloc_buffer: allocating 4096.00 MiB on device 0: cudaMalloc failed: out of memory', 'gpu'],
    ['TensorFlow', 'ResourceExhaustedError: OOM when allocating tensor on /job:localhost/device:GPU:0', 'gpu'],
    ['Python', 'MemoryError', 'host'],
    ['C++', "terminate called after throwing an instance of 'std::bad_alloc'", 'host'],
    ['Node', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', 'host'],
  ])('%s', (_n, line, kind) => {
    expect(detectOom(`starting\n${line}\nbye\n`, failed)).toEqual({ kind, evidence: line });
  });

  it('a GPU message wins over a host one', () => {
    expect(detectOom('CUDA out of memory\nMemoryError\n', failed)?.kind).toBe('gpu');
  });

  it('a SIGKILL we did not send is most likely the kernel OOM killer; ours is not', () => {
    expect(detectOom('', { exitCode: null, signal: 'SIGKILL', killedByUs: false })?.kind).toBe('host');
    expect(detectOom('', { exitCode: null, signal: 'SIGKILL', killedByUs: true })).toBeNull();
  });

  it('success, or a plain failure, is not an OOM', () => {
    expect(detectOom('CUDA out of memory (recovered by retrying smaller batches)\n', { exitCode: 0, signal: null, killedByUs: false })).toBeNull();
    expect(detectOom('ValueError: bad input\n', failed)).toBeNull();
  });
});
