/** torch-model-archiver's `--model-name` filter (spec §7.4). */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_\-.]*$/;

export function isValidModelName(name: string): boolean {
  return MODEL_NAME_PATTERN.test(name);
}

/**
 * Default model name for an archive file without a manifest name (spec §1.6,
 * `ModelServer#getDefaultModelName`): the base name, minus its last extension only when the name
 * contains `.mar` or `.model`, with every non-word character (and a leading `_`) replaced by `_`.
 * `resnet-18.mar` → `resnet_18`; `x.tar.gz` → `x_tar_gz`; `a.v2.mar` → `a_v2`.
 */
export function modelNameFromFile(fileName: string): string {
  let base = fileName.slice(fileName.lastIndexOf('/') + 1);
  if (base.includes('.model') || base.includes('.mar')) {
    base = base.slice(0, base.lastIndexOf('.'));
  }
  return base.replace(/\W|^_/g, '_');
}
