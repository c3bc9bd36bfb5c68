import { describe, expect, it } from 'vitest';
import { formatSize, parseDuration, parseSize } from '../../src/config/units.js';

describe('units', () => {
  it('parses sizes as QEMU writes them', () => {
    expect(parseSize('1G')).toBe(2 ** 30);
    expect(parseSize('512M')).toBe(512 * 2 ** 20);
    expect(parseSize('4KiB')).toBe(4096);
    expect(parseSize(123)).toBe(123);
    expect(() => parseSize('1.5G')).toThrow(/not a size/);
  });
  it('formats sizes in the largest exact unit', () => {
    expect(formatSize(2 ** 30)).toBe('1G');
    expect(formatSize(3 * 2 ** 30 + 2 ** 29)).toBe('3584M');
    expect(formatSize(1000)).toBe('1000');
  });
  it('parses durations', () => {
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
  });
});
