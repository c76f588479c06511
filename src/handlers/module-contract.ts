/**
 * Checks that a loaded module honours the handler contract (api.ts). Used by the worker's
 * loader and by the archiver before it writes an archive, so both refuse the same modules.
 */
import { HANDLER_STEPS, type HandlerModule } from './api.js';

export class HandlerContractError extends Error {}

/**
 * Returns the module to use. With `functionName` (from `file.mjs:functionName`) that export must
 * be a function, and becomes the `handle` entry point. Otherwise at least one step must be exported.
 */
export function validateHandlerModule(mod: unknown, functionName?: string): HandlerModule {
  if (typeof mod !== 'object' || mod === null) throw new HandlerContractError('the handler module has no exports');
  const exports = mod as Record<string, unknown>;
  if (functionName !== undefined) {
    const fn = exports[functionName];
    if (typeof fn !== 'function') throw new HandlerContractError(`the handler module does not export a function "${functionName}"`);
    return { handle: fn as HandlerModule['handle'] };
  }
  // `export default { handle() {} }` is accepted as well as named exports.
  const source = typeof exports.default === 'object' && exports.default !== null ? (exports.default as Record<string, unknown>) : exports;
  const found: HandlerModule = {};
  for (const step of HANDLER_STEPS) {
    const value = source[step];
    if (value === undefined) continue;
    if (typeof value !== 'function') throw new HandlerContractError(`the handler export "${step}" is not a function`);
    (found as Record<string, unknown>)[step] = value;
  }
  if (Object.keys(found).length === 0) {
    throw new HandlerContractError(`the handler module exports none of ${HANDLER_STEPS.join(', ')}`);
  }
  return found;
}
