/**
 * `index_to_name.json` as TorchServe's `load_label_mapping` reads it: `{"0": "cat"}`, ImageNet's
 * `{"0": ["n01440764", "tench"]}` (the last entry is the name), or the older object-detection form
 * `{"object_type_names": ["__background__", "person", ...]}`. A missing file means no mapping
 * (class indexes are replied as strings, as TorchServe does).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export const LABELS_FILE = 'index_to_name.json';

export type LabelMap = ReadonlyMap<string, string>;

export function parseLabelMapping(parsed: unknown): LabelMap {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${LABELS_FILE}: index->name JSON mapping should be in "class": "label" format`);
  }
  const mapping = parsed as Record<string, unknown>;
  const names = mapping['object_type_names'];
  if (Array.isArray(names)) return new Map(names.map((n, i) => [String(i), String(n)]));
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(mapping)) {
    const name = Array.isArray(value) ? (value[value.length - 1] as unknown) : value;
    if (typeof name !== 'string') throw new Error(`${LABELS_FILE}: labels must be strings or lists of strings (key "${key}")`);
    out.set(key, name);
  }
  return out;
}

export async function loadLabelMapping(modelDir: string): Promise<LabelMap | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(modelDir, LABELS_FILE), 'utf8');
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${LABELS_FILE} is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseLabelMapping(parsed);
}

/** TorchServe's `mapping[str(class)]`, falling back to the index itself when unmapped. */
export const labelOf = (labels: LabelMap | undefined, index: number): string => labels?.get(String(index)) ?? String(index);
