export * from './resources.js';
export * from './task.js';
export * from './agent-manifest.js';
export * from './agent-output.js';
export * from './telemetry.js';
export * from './errors.js';
export * from './settings.js';
export * from './workflow.js';
