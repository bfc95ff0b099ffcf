/** ajv's validation errors as one line naming the key, for every JSON file a user writes. */
import type { ErrorObject } from 'ajv';

/** A JSON pointer as a key path: `/columns/2/kind` → `columns[2].kind`. */
function keyPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join('')
    .replace(/^\./, '');
}

/** One ajv error as a line naming the key: unknown, missing, not one of, or what ajv says. */
export function describeSchemaError(e: ErrorObject): string {
  const at = keyPath(e.instancePath);
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return `unknown key "${at ? `${at}.` : ''}${extra}"`;
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return `missing key "${at ? `${at}.` : ''}${missing}"`;
  }
  if (e.keyword === 'enum') {
    const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v));
    return `"${at}" must be one of ${allowed.join(', ')}`;
  }
  return `"${at || '(root)'}" ${e.message ?? 'is invalid'}`;
}
