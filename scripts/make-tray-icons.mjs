// Writes the tray icons (resources/tray/*.png): a filled circle per state, at 16, 32 and 64 px.
// PNG is written by hand (zlib is all it needs), so no image tool is required.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'resources', 'tray');
const COLORS = { idle: [148, 163, 184], running: [37, 99, 235], attention: [220, 38, 38], held: [217, 119, 6] };

function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function png(size, [r, g, b]) {
  const rows = [];
  const c = (size - 1) / 2;
  for (let y = 0; y < size; y++) {
    const row = Buffer.alloc(1 + size * 4);
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c) - size * 0.4;
      const a = Math.max(0, Math.min(1, 0.5 - d)); // anti-aliased edge
      row.set([r, g, b, Math.round(a * 255)], 1 + x * 4);
    }
    rows.push(row);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

for (const [state, color] of Object.entries(COLORS)) {
  writeFileSync(join(out, `${state}.png`), png(16, color));
  writeFileSync(join(out, `${state}@2x.png`), png(32, color));
  writeFileSync(join(out, `${state}@4x.png`), png(64, color));
}
writeFileSync(join(out, '..', 'icon.png'), png(256, COLORS.running));
