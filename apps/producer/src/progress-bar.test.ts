import { describe, expect, it } from 'vitest';
import { renderBar } from './progress-bar.js';

describe('renderBar', () => {
  it('fills in proportion and shows counts and rate', () => {
    expect(renderBar(50, 100, 2, 10)).toBe('[#####-----]  50% 50/100 readings 25/s');
    expect(renderBar(100, 100, 1, 4)).toBe('[####] 100% 100/100 readings 100/s');
    expect(renderBar(0, 0, 0, 4)).toBe('[####] 100% 0/0 readings 0/s');
  });
});
