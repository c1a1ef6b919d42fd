import { z } from 'zod';

/**
 * Residents: the AI servers people already run beside us (Ollama, ComfyUI, llama.cpp's
 * llama-server), which keep models loaded in VRAM. The Manager reads what each holds through its
 * own HTTP API and, as its policy allows, asks it to unload when a queued task needs the memory.
 */
export const RESIDENT_KINDS = ['ollama', 'comfyui', 'llamacpp'] as const;
export type ResidentKind = (typeof RESIDENT_KINDS)[number];

export const RESIDENT_LABELS: Record<ResidentKind, string> = { ollama: 'Ollama', comfyui: 'ComfyUI', llamacpp: 'llama.cpp' };

/** Default URLs; llama-server has no port of its own (8080 is everyone's), so it is off until set. */
export const RESIDENT_DEFAULT_URLS: Record<ResidentKind, string> = {
  ollama: 'http://127.0.0.1:11434',
  comfyui: 'http://127.0.0.1:8188',
  llamacpp: '',
};

/**
 * never: its memory is only waited for. when-idle (default): unloaded when it has been idle
 * (not busy, no request seen) for residentIdleSec. always: unloaded whenever a task needs the
 * memory, busy or not (the server itself finishes what it is doing first, where it can).
 */
export const ResidentPolicySchema = z.enum(['never', 'when-idle', 'always'], {
  error: 'a resident policy is never, when-idle or always',
});
export type ResidentPolicy = z.infer<typeof ResidentPolicySchema>;

const LOOPBACK_URL = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?(\/[^\s]*)?$/i;
const HTTP_URL = /^https?:\/\/[^\s/:]+(:\d{1,5})?(\/[^\s]*)?$/i;

/** Whether a resident URL is on this machine's loopback (127.0.0.1, localhost, [::1]). */
export const isLoopbackUrl = (url: string): boolean => LOOPBACK_URL.test(url);

/**
 * An empty URL turns the integration off. A resident is a program on this machine: a URL that is
 * not loopback (a container's address, say) is taken only with residentRemoteAllowed (see
 * settings.ts), so a typo cannot point the Manager at someone else's server.
 */
export const ResidentUrlSchema = z.string().refine((s) => s === '' || HTTP_URL.test(s) || /^https?:\/\/\[[0-9a-f:]+\](:\d{1,5})?(\/\S*)?$/i.test(s), {
  message: 'a resident URL is http://127.0.0.1:PORT (or localhost, or [::1]) on this machine, or empty to turn it off',
});

/** Whether a loaded model is the one a task names: Ollama names a model without a tag as its ":latest". */
export const sameModel = (loaded: string, named: string): boolean =>
  loaded === named || (!named.includes(':') && loaded === `${named}:latest`) || (!loaded.includes(':') && named === `${loaded}:latest`);

export const ResidentModelSchema = z.object({
  name: z.string(),
  /** What it holds in VRAM, as the server reports it (MB); null where the server does not say. */
  vramMB: z.number().nullable(),
});

export const ResidentViewSchema = z.object({
  kind: z.enum(RESIDENT_KINDS),
  label: z.string(),
  url: z.string(),
  policy: ResidentPolicySchema,
  /** ok: it answered; unreachable: no answer (it may not be running); error: it answered nonsense. */
  state: z.enum(['ok', 'unreachable', 'error']),
  /** What went wrong, and when it is tried again; null when ok. */
  message: z.string().nullable(),
  busy: z.boolean(),
  /** Epoch ms of the last activity seen; null when none was seen. */
  lastActiveAt: z.number().nullable(),
  models: z.array(ResidentModelSchema),
  /** What its processes hold on the GPUs now, from nvidia-smi (MB), or what it reports where they are not found. */
  vramMB: z.number(),
  pids: z.array(z.number().int()),
  /** Our running tasks it is serving (an ollama or comfyui task): what it holds counts as theirs, and it is not unloaded under them. */
  serving: z.array(z.number().int()),
  /** Whether its policy lets it be asked to unload now. */
  canFree: z.boolean(),
  /** An unload asked of it that telemetry has not yet shown done. */
  freeing: z.boolean(),
});
export type ResidentView = z.infer<typeof ResidentViewSchema>;

/**
 * What `pause --free-vram` did: the queue is held, preemptible GPU tasks were stopped to be queued
 * again (nothing is lost: they start over, or from their checkpoint, on resume), the others were
 * left running, and each resident holding VRAM was asked to unload unless its policy is never.
 */
export const FreeVramResultSchema = z.object({
  paused: z.literal(true),
  requeued: z.array(z.number().int()),
  /** GPU tasks left running, each with why (not preemptible). */
  kept: z.array(z.object({ id: z.number().int(), why: z.string() })),
  residents: z.array(
    z.object({
      kind: z.enum(RESIDENT_KINDS),
      label: z.string(),
      /** What it held (MB) when asked. */
      vramMB: z.number(),
      asked: z.boolean(),
      /** Why it was not asked; null when it was. */
      why: z.string().nullable(),
    }),
  ),
});
export type FreeVramResult = z.infer<typeof FreeVramResultSchema>;
