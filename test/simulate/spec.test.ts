import { describe, expect, it } from 'vitest';
import { DEFAULT_SPEC, parseSpec } from '../../src/simulate/spec.js';

describe('parseSpec', () => {
  it('returns the documented defaults for an empty override', () => {
    expect(parseSpec({})).toEqual(DEFAULT_SPEC);
  });

  it('merges objects key by key and replaces arrays whole', () => {
    const spec = parseSpec({ income: { sd: 10 }, response: { older: { events: [1, 3] } } });
    expect(spec.income).toEqual({ offset: 20, sd: 10 });
    expect(spec.response.older).toEqual({ events: [1, 3], ifEvent: 0.6, otherwise: 0.4 });
  });

  it.each([
    [{ nope: 1 }, 'unknown key "nope"'],
    [{ income: { sd: -1 } }, '"income.sd" must be >= 0'],
    [
      { ageBands: [{ probability: 0.5, min: 16, max: 20 }] },
      '"ageBands" probabilities sum to 0.5, expected 1',
    ],
    [{ ageBands: [{ probability: 1, min: 30, max: 20 }] }, '"ageBands[0]" is empty: min 30 > max 20'],
    [{ eventWeights: { older: [0, 0, 0, 0, 0, 0, 0] } }, '"eventWeights.older" weights sum to 0'],
    [{ eventWeights: { younger: [1, -1] } }, '"eventWeights.younger[1]" must be >= 0'],
    [{ income: { offset: 'x' } }, '"income.offset" must be number'],
    [{ response: { older: { events: [9] } } }, '"response.older.events[0]" is 9, expected an event in 0..6'],
    [[1], 'expected a JSON object'],
  ])('refuses %j naming the key', (override, message) => {
    expect(() => parseSpec(override, 'my.json')).toThrow(`my.json: ${message}`);
    expect(() => parseSpec(override, 'my.json')).toThrow(
      expect.objectContaining({ code: 'SEGSERVE_ERR_CONFIG_FILE' }) as unknown as Error,
    );
  });
});
