/**
 * Prometheus text format 0.0.4, in two dialects: the one Java simpleclient 0.9.0 writes (TorchServe's
 * families: trailing comma inside the braces, Java doubles) and the usual one (onnxserve's families).
 */
import { goDouble, promValue } from './number-format.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type FamilyType = 'counter' | 'gauge' | 'histogram';

export interface Sample {
  /** The family name, or `<family>_bucket|_sum|_count` for histograms. */
  name: string;
  labelNames: readonly string[];
  labelValues: readonly string[];
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: FamilyType;
  samples: Sample[];
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function header(f: Family): string {
  return `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
}

/** simpleclient 0.9.0 `TextFormat.write004`: every label followed by a comma, values via doubleToGoString. */
export function simpleclientText(f: Family): string {
  let out = header(f);
  for (const s of f.samples) {
    out += s.name;
    if (s.labelNames.length > 0) {
      out += '{';
      for (let i = 0; i < s.labelNames.length; i++) out += `${s.labelNames[i]}="${escapeLabel(s.labelValues[i] ?? '')}",`;
      out += '}';
    }
    out += ` ${goDouble(s.value)}\n`;
  }
  return out;
}

/** The common form (Go client, prom-client): labels comma-separated, no trailing comma. */
export function standardText(f: Family): string {
  let out = header(f);
  for (const s of f.samples) {
    out += s.name;
    if (s.labelNames.length > 0) {
      const parts: string[] = [];
      for (let i = 0; i < s.labelNames.length; i++) parts.push(`${s.labelNames[i]}="${escapeLabel(s.labelValues[i] ?? '')}"`);
      out += `{${parts.join(',')}}`;
    }
    out += ` ${promValue(s.value)}\n`;
  }
  return out;
}

/** A family whose samples are gathered only when a scrape asks for it. */
export interface FamilySource {
  name: string;
  help: string;
  type: FamilyType;
  samples(): Sample[];
}

/** Whether a `name[]` filter selects a family: its own name, or one of a histogram's sample names. */
export function selects(names: ReadonlySet<string> | undefined, f: Pick<FamilySource, 'name' | 'type'>): boolean {
  if (!names) return true;
  if (names.has(f.name)) return true;
  return f.type === 'histogram' && (names.has(`${f.name}_bucket`) || names.has(`${f.name}_sum`) || names.has(`${f.name}_count`));
}
