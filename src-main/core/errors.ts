import type { ApiErrorCode } from '../../contracts/errors.js';

/**
 * An exceptional outcome a user can see. `code` is stable (clients branch on it); `message` says
 * what was wrong and what to do.
 */
export class ManagerError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly index?: number,
  ) {
    super(message);
    this.name = 'ManagerError';
  }
}
