/**
 * The archiver's failures, each printed the way torch-model-archiver prints it, so scripts that
 * grep its stderr keep working: argparse usage errors (exit 2), `ModelArchiverError`s logged as
 * `ERROR - <message>` (exit 1), and Python's `FileNotFoundError: <message>` (exit 1).
 */

/** A command-line misuse: argparse prints usage and `<prog>: error: <message>`, exit 2. */
export class UsageError extends Error {}

/** TorchServe's ModelArchiverError (and onnxserve's own refusals): `ERROR - <message>`, exit 1. */
export class ArchiverError extends Error {}

/** Python's FileNotFoundError, printed as `FileNotFoundError: <message>`, exit 1. */
export class MissingFileError extends Error {}

/** Python's text for a file that `shutil.copy` cannot open. */
export const noSuchFile = (p: string): MissingFileError =>
  new MissingFileError(`[Errno 2] No such file or directory: '${p}'`);

/** torch-model-archiver's text for a missing `--extra-files` item. */
export const extraFileMissing = (p: string): MissingFileError => new MissingFileError(`File does not exist: ${p}`);

/** The stderr text for an error (without trailing newline). */
export function renderError(err: unknown): string {
  if (err instanceof MissingFileError) return `FileNotFoundError: ${err.message}`;
  if (err instanceof ArchiverError) return `ERROR - ${err.message}`;
  const message = err instanceof Error ? err.message : String(err);
  return `ERROR - ${message}`;
}
