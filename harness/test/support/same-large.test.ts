import t, { type Test } from 'tap';
import { sameLarge } from './same-large';

// sameLarge passes strictly equal values itself and hands every other pair to t.same, which decides.
t.test('equal values pass without t.same; any difference is t.same\'s to judge and show', async (t) => {
  const calls: string[] = [];
  const probe = {
    pass: (m: string) => (calls.push(`pass ${m}`), true),
    same: (_f: unknown, _w: unknown, m: string) => (calls.push(`same ${m}`), false),
  } as unknown as Test;
  const big = () => ({ instances: Array.from({ length: 500 }, (_, i) => ({ inst: `s${i}`, rings: [{ t: [i, i + 1] }] })) });
  t.equal(sameLarge(probe, big(), big(), 'a'), true);
  const other = big();
  other.instances[499]!.rings[0]!.t[1] = 0;
  t.equal(sameLarge(probe, other, big(), 'b'), false, 'a difference deep inside goes to t.same');
  t.equal(sameLarge(probe, { a: 1, b: undefined }, { a: 1 }, 'c'), false, 'not strictly equal: t.same decides (loosely)');
  t.same(calls, ['pass a', 'same b', 'same c']);
});

