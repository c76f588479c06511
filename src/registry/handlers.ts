/**
 * Which handler names this server can run. Refusing the rest at registration (rather than when
 * workers start, as TorchServe does) gives the user the reason straight away.
 */
import { invalidModel } from '../errors.js';

/** Names that select the default ONNX handler (TorchServe's generic base handler included). */
export const DEFAULT_HANDLER_ALIASES = ['', 'default', 'onnx', 'base_handler', 'tensor'] as const;

const SUPPORTED_TEXT =
  'onnxserve runs ONNX models with its default ONNX handler: leave the handler empty or use one of ' +
  DEFAULT_HANDLER_ALIASES.filter((n) => n !== '')
    .map((n) => `"${n}"`)
    .join(', ');

/** Returns the canonical handler name (undefined ⇒ default ONNX handler) or throws 400. */
export function checkHandler(handler: string | undefined): undefined {
  const name = (handler ?? '').trim();
  if ((DEFAULT_HANDLER_ALIASES as readonly string[]).includes(name)) return undefined;
  const base = name.split(':')[0] ?? name;
  if (base.endsWith('.py') || base.endsWith('.pyc')) {
    throw invalidModel(`Handler "${name}" is a Python handler, which onnxserve cannot run. ${SUPPORTED_TEXT}.`);
  }
  throw invalidModel(`Handler "${name}" is not supported. ${SUPPORTED_TEXT}.`);
}
