#!/usr/bin/env node
// `npm run openapi`: writes contracts/openapi.json from the zod contracts (through the built
// src-main/server/openapi.js). test/server/rest.test.ts fails when the file and the code drift.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { openApiDocument } = await import(join(root, 'dist', 'src-main', 'server', 'openapi.js'));
const out = join(root, 'contracts', 'openapi.json');
writeFileSync(out, JSON.stringify(openApiDocument(), null, 2) + '\n');
console.log(`wrote ${out}`);
