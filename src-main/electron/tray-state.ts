/** What the tray shows, computed from the queue and the GPU, with no Electron in sight. */
export type TrayState = 'idle' | 'running' | 'attention' | 'held';

export interface TrayInput {
  running: number;
  queued: number;
  paused: boolean;
  /** A task failed (or timed out) since the person last opened the app. */
  unseenFailures: number;
  /** VRAM in use on all GPUs (ours + other programs) and their total; null with no GPU. */
  vram: { usedMB: number; totalMB: number } | null;
  /** Why the Manager cannot record work (a full disk), when it cannot; absent or null when all is well. */
  degraded?: string | null;
  /** What the GPU is yielded to (game mode, focus mode), when it is; absent or null: nothing. */
  yielding?: { by: 'game' | 'focus'; reason: string } | null;
}

export function trayState(i: TrayInput): TrayState {
  if (i.unseenFailures > 0 || i.degraded) return 'attention';
  // The GPU left to the person (game or focus mode): amber, whatever else runs.
  if (i.yielding) return 'held';
  return i.running > 0 ? 'running' : 'idle';
}

const gb = (mb: number): string => (mb / 1024).toFixed(1);

export function trayTooltip(i: TrayInput): string {
  const parts = [`${i.running} running`, `${i.queued} queued`];
  if (i.paused) parts.push('paused');
  if (i.unseenFailures > 0) parts.push(`${i.unseenFailures} failed`);
  const vram = i.vram ? ` · VRAM ${gb(i.vram.usedMB)} of ${gb(i.vram.totalMB)} GB in use` : '';
  // Degraded first: it is why nothing new starts.
  const degraded = i.degraded ? `NOT STARTING TASKS: ${i.degraded} · ` : '';
  const held = i.yielding ? ` · GPU left to you: ${i.yielding.reason}` : '';
  return `Agent Manager: ${degraded}${parts.join(', ')}${vram}${held}`;
}

export interface MenuItem {
  id: 'open' | 'pause' | 'resume' | 'free-vram' | 'focus-on' | 'focus-off' | 'quit' | 'separator';
  label?: string;
}

export function trayMenu(i: TrayInput): MenuItem[] {
  return [
    { id: 'open', label: 'Open Agent Manager' },
    i.paused ? { id: 'resume', label: 'Resume queue' } : { id: 'pause', label: 'Pause queue' },
    // For a game or work of one's own: the queue held, preemptible GPU tasks queued again, residents unloaded.
    ...(i.vram ? [{ id: 'free-vram' as const, label: 'Pause and free the GPU' }] : []),
    // Focus mode: GPU tasks below the game-mode priority wait until it is ended.
    i.yielding?.by === 'focus' ? { id: 'focus-off', label: 'End focus mode' } : { id: 'focus-on', label: 'Focus mode: leave the GPU to me' },
    { id: 'separator' },
    { id: 'quit', label: 'Quit' },
  ];
}

/** Where the quick view opens: next to the tray icon, inside the work area of its screen. */
export function quickViewPosition(
  tray: { x: number; y: number; width: number; height: number },
  size: { width: number; height: number },
  work: { x: number; y: number; width: number; height: number },
): { x: number; y: number } {
  const below = tray.y + tray.height + size.height <= work.y + work.height;
  const y = below ? tray.y + tray.height + 4 : tray.y - size.height - 4;
  const x = Math.round(tray.x + tray.width / 2 - size.width / 2);
  return {
    x: Math.min(Math.max(work.x, x), work.x + work.width - size.width),
    y: Math.min(Math.max(work.y, y), work.y + work.height - size.height),
  };
}
