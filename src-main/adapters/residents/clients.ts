import { z } from 'zod';
import type { ResidentKind } from '../../../contracts/residents.js';
import { requestJson, ResidentHttpError } from './http-json.js';

/** What one poll of a resident's API says. */
export interface Polled {
  busy: boolean;
  models: { name: string; vramMB: number | null }[];
  /** Changes whenever it served a request (Ollama: a model's expiry moved); null where the API cannot tell. */
  activity: string | null;
  /** What it reports holding on each GPU (MB), where its processes cannot be found in nvidia-smi's list. */
  reportedByGpu: Map<number, number> | null;
  unloadable: boolean;
  /** Why it cannot unload, in words (llama-server not in router mode); null when it can. */
  note: string | null;
  /** The models it has (loaded or not) and the size of each one's weights (MB), where it lists them (Ollama's /api/tags). */
  available?: Map<string, number>;
}

export interface ResidentClient {
  kind: ResidentKind;
  perModel: boolean;
  /** Process names that are this server's, when its pid is not found through its port. */
  processName: RegExp | null;
  poll(base: string, timeoutMs: number): Promise<Polled>;
  /** Asks it to unload `models` (null: all it has loaded). */
  unload(base: string, models: string[] | null, timeoutMs: number): Promise<void>;
}

const MiB = 1024 * 1024;

function parse<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (!r.success)
    throw new ResidentHttpError(
      `${what} is not in the documented shape (${r.error.issues[0]?.path.join('.') || 'top'}: ${r.error.issues[0]?.message})`,
      'error',
    );
  return r.data;
}

// Ollama: GET /api/ps lists loaded models with size_vram (bytes) and expires_at; a generate
// request with keep_alive 0 and no prompt unloads one (after any request it is serving).
const OllamaPs = z.object({
  models: z.array(z.object({ name: z.string(), model: z.string().optional(), size_vram: z.number().nonnegative(), expires_at: z.string().optional() }).loose()),
});
// GET /api/tags lists the models pulled, each with `size` (bytes of its weights on disk).
const OllamaTags = z.object({ models: z.array(z.object({ name: z.string(), size: z.number().nonnegative() }).loose()) });

/**
 * What a model not yet loaded will hold in VRAM, from its weights' size: the weights, plus its
 * KV cache and compute graph at Ollama's default context (about 15 % and half a GB more; an 8B
 * Q4_K_M model of 4.7 GB loads as about 5.9 GB).
 */
export const ollamaVramEstimateMB = (weightsMB: number): number => Math.ceil(weightsMB * 1.15 + 512);

export const ollama: ResidentClient = {
  kind: 'ollama',
  perModel: true,
  processName: /ollama/i,
  async poll(base, timeoutMs) {
    const ps = parse(OllamaPs, await requestJson(base, 'api/ps', { timeoutMs }), 'Ollama /api/ps');
    let available: Map<string, number> | undefined;
    try {
      const tags = OllamaTags.safeParse(await requestJson(base, 'api/tags', { timeoutMs }));
      if (tags.success) available = new Map(tags.data.models.map((m) => [m.name, Math.round(m.size / MiB)]));
    } catch {
      // what is loaded still counts; sizes come with the next poll
    }
    return {
      available,
      busy: false,
      models: ps.models.map((m) => ({ name: m.name, vramMB: Math.round(m.size_vram / MiB) })),
      activity: JSON.stringify(ps.models.map((m) => [m.name, m.expires_at ?? null])),
      reportedByGpu: null,
      unloadable: true,
      note: null,
    };
  },
  async unload(base, models, timeoutMs) {
    const names = models ?? (await this.poll(base, timeoutMs)).models.map((m) => m.name);
    for (const model of names) await requestJson(base, 'api/generate', { method: 'POST', body: { model, keep_alive: 0 }, timeoutMs });
  },
};

// ComfyUI: GET /queue says what runs and waits; GET /system_stats gives each device's VRAM as
// PyTorch holds it; POST /free with unload_models and free_memory frees it all.
const ComfyQueue = z.object({ queue_running: z.array(z.unknown()), queue_pending: z.array(z.unknown()) }).loose();
const ComfyStats = z
  .object({
    devices: z.array(
      z.object({ name: z.string(), type: z.string(), index: z.number().nullable().optional(), torch_vram_total: z.number().optional() }).loose(),
    ),
  })
  .loose();

export const comfyui: ResidentClient = {
  kind: 'comfyui',
  perModel: false,
  processName: null,
  async poll(base, timeoutMs) {
    const q = parse(ComfyQueue, await requestJson(base, 'queue', { timeoutMs }), 'ComfyUI /queue');
    const stats = parse(ComfyStats, await requestJson(base, 'system_stats', { timeoutMs }), 'ComfyUI /system_stats');
    const byGpu = new Map<number, number>();
    for (const d of stats.devices) if (d.type === 'cuda' && d.torch_vram_total) byGpu.set(d.index ?? 0, Math.round(d.torch_vram_total / MiB));
    const held = [...byGpu.values()].reduce((a, b) => a + b, 0);
    return {
      busy: q.queue_running.length + q.queue_pending.length > 0,
      models: held > 0 ? [{ name: 'loaded models', vramMB: held }] : [],
      activity: null,
      reportedByGpu: byGpu,
      unloadable: true,
      note: null,
    };
  },
  async unload(base, _models, timeoutMs) {
    await requestJson(base, 'free', { method: 'POST', body: { unload_models: true, free_memory: true }, timeoutMs });
  },
};

// llama.cpp's llama-server: in router mode (started without a model) GET /models lists each
// model with status.value (loaded, loading, unloaded, sleeping, downloading) and POST
// /models/unload {"model"} unloads one. It reports no per-model VRAM and no busy flag on /models;
// a single-model server (started with -m) has no unload at all.
const LlamaModels = z.object({
  data: z.array(z.object({ id: z.string(), status: z.object({ value: z.string() }).loose().optional() }).loose()),
});
const LlamaSlots = z.array(z.object({ is_processing: z.boolean() }).loose());

export const llamacpp: ResidentClient = {
  kind: 'llamacpp',
  perModel: true,
  processName: /llama-server/i,
  async poll(base, timeoutMs) {
    const list = parse(LlamaModels, await requestJson(base, 'models', { timeoutMs }), 'llama-server /models');
    const router = list.data.some((m) => m.status !== undefined);
    const loaded = router ? list.data.filter((m) => m.status?.value === 'loaded' || m.status?.value === 'loading') : list.data;
    let busy = false;
    for (const m of loaded) {
      // Each model instance's slots (where the server exposes them): one at work is busy.
      try {
        const slots = LlamaSlots.safeParse(await requestJson(base, `slots?model=${encodeURIComponent(m.id)}`, { timeoutMs }));
        if (slots.success && slots.data.some((s) => s.is_processing)) busy = true;
      } catch {
        // --no-slots, or an older server: busy cannot be seen
      }
    }
    return {
      busy,
      models: loaded.map((m) => ({ name: m.id, vramMB: null })),
      activity: null,
      reportedByGpu: null,
      unloadable: router,
      note: router ? null : 'llama-server runs one model (started with -m): only router mode (started without a model) can unload',
    };
  },
  async unload(base, models, timeoutMs) {
    const names = models ?? (await this.poll(base, timeoutMs)).models.map((m) => m.name);
    for (const model of names) await requestJson(base, 'models/unload', { method: 'POST', body: { model }, timeoutMs });
  },
};

export const CLIENTS: Record<ResidentKind, ResidentClient> = { ollama, comfyui, llamacpp };
