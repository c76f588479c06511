/**
 * `index_to_name.json` support: class scores → {label: score}, best first, like TorchServe's
 * image classifier (`map_class_to_label`), but with every class rather than a top-k.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { TensorData } from './types.js';

export const LABELS_FILE = 'index_to_name.json';

/** Labels by class index, or undefined when the model folder has no (usable) index_to_name.json. */
export async function loadLabels(modelDir: string): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(modelDir, LABELS_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(text) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${LABELS_FILE} must be an object {"0": "name", ...}`);
  }
  return parseLabels(parsed as Record<string, unknown>);
}

/** {"0": "cat"} or ImageNet style {"0": ["n01440764", "tench"]} (last entry is the name). */
export function parseLabels(mapping: Record<string, unknown>): string[] {
  const count = Object.keys(mapping).reduce((n, k) => (/^\d+$/.test(k) ? Math.max(n, Number(k) + 1) : n), 0);
  return Array.from({ length: count }, (_, i) => {
    const v = mapping[String(i)];
    const name = Array.isArray(v) ? v[v.length - 1] : v;
    return typeof name === 'string' ? name : String(i);
  });
}

/** Rows of a [batch, C] score tensor as {label: score} objects sorted by score descending. */
export function labelRows(t: TensorData, labels: string[]): Array<Record<string, number>> | undefined {
  const [batch, classes] = t.dims;
  if (t.dims.length !== 2 || batch === undefined || classes !== labels.length || Array.isArray(t.data)) return undefined;
  const data = t.data;
  const rows: Array<Record<string, number>> = [];
  for (let r = 0; r < batch; r++) {
    const scored = labels.map((name, c) => ({ name, score: Number(data[r * classes + c]) }));
    scored.sort((a, b) => b.score - a.score);
    rows.push(Object.fromEntries(scored.map((s) => [s.name, s.score])));
  }
  return rows;
}
