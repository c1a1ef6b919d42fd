import type { ResourceOverride, ResourceRequest } from '../../../contracts/resources.js';

export interface ResourceInputs {
  cpu?: string;
  memoryMB?: string;
  vramMB?: string;
}

/**
 * The request a task runs with: the agent's declared needs; then what the agent says to take from
 * the input (`resourceInputs`); then whatever the submitter set explicitly. `gpu: null` in the
 * override (or a VRAM of 0 from the input) means "no GPU" even for an agent that declares one.
 * `pinned` says the task set its own request.
 */
export function resolveRequest(
  declared: ResourceRequest,
  override: ResourceOverride | undefined,
  fromInput?: { mapping: ResourceInputs; input: Record<string, unknown> },
): { request: ResourceRequest; pinned: boolean } {
  let base = declared;
  let taken = false;
  if (fromInput) {
    const pick = (key: string | undefined): number | undefined => {
      const v = key === undefined ? undefined : fromInput.input[key];
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
    };
    const cpu = pick(fromInput.mapping.cpu);
    const mem = pick(fromInput.mapping.memoryMB);
    const vram = pick(fromInput.mapping.vramMB);
    if (cpu !== undefined || mem !== undefined || vram !== undefined) {
      taken = true;
      base = { cpu: cpu ?? declared.cpu, memoryMB: mem !== undefined ? Math.ceil(mem) : declared.memoryMB };
      if (vram !== undefined) {
        if (vram > 0) base.gpu = { count: declared.gpu?.count ?? 1, vramMB: Math.ceil(vram) };
      } else if (declared.gpu) base.gpu = declared.gpu;
    }
  }
  // A request the task set itself (through its input or explicitly) is never replaced by a learned one.
  if (!override) return { request: base, pinned: taken };
  const request: ResourceRequest = {
    cpu: override.cpu ?? base.cpu,
    memoryMB: override.memoryMB ?? base.memoryMB,
  };
  if (override.gpu === null) {
    // explicitly none
  } else if (override.gpu) {
    request.gpu = {
      count: override.gpu.count ?? base.gpu?.count ?? 1,
      vramMB: override.gpu.vramMB ?? base.gpu?.vramMB ?? 0,
    };
  } else if (base.gpu) {
    request.gpu = base.gpu;
  }
  return { request, pinned: true };
}
