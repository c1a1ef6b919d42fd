/** Messages that say a process ran out of GPU memory (CUDA, PyTorch, TensorFlow, llama.cpp, ROCm). */
const GPU_OOM =
  /CUDA out of memory|CUDA error: out of memory|OutOfMemoryError: CUDA|cudaErrorMemoryAllocation|CUBLAS_STATUS_ALLOC_FAILED|CUDNN_STATUS_(?:ALLOC_FAILED|NOT_ENOUGH_WORKSPACE)|out of memory on device|failed to allocate \S+ (?:MiB|MB|GiB|bytes)? ?(?:of )?(?:GPU|device|VRAM)|ResourceExhaustedError.*GPU|ggml_\w*cuda\w*.*out of memory|HIP out of memory/i;

/** Messages that say it ran out of host memory. */
const HOST_OOM =
  /\bMemoryError\b|std::bad_alloc|Cannot allocate memory|JavaScript heap out of memory|Out of memory: Killed process|\bOOMKilled\b|fatal error: runtime: out of memory/;

export interface OomFinding {
  kind: 'gpu' | 'host';
  evidence: string;
}

/**
 * Whether a failed run died of running out of memory, from the end of its log and how it ended.
 * GPU messages win over host ones (a CUDA failure often also prints a host-side error). A SIGKILL
 * we did not send is most often the kernel's out-of-memory killer.
 */
export function detectOom(logTail: string, ended: { exitCode: number | null; signal: string | null; killedByUs: boolean }): OomFinding | null {
  if (ended.exitCode === 0 && ended.signal === null) return null;
  const lines = logTail.split('\n');
  const find = (re: RegExp): string | undefined => {
    for (let i = lines.length - 1; i >= 0; i--) if (re.test(lines[i]!)) return lines[i]!.trim().slice(0, 200);
    return undefined;
  };
  const gpu = find(GPU_OOM);
  if (gpu) return { kind: 'gpu', evidence: gpu };
  const host = find(HOST_OOM);
  if (host) return { kind: 'host', evidence: host };
  if (ended.signal === 'SIGKILL' && !ended.killedByUs)
    return { kind: 'host', evidence: "SIGKILL that the Manager did not send, most likely from the kernel's out-of-memory killer" };
  return null;
}
