// A small DER reader: enough ASN.1 to walk a PKCS#7 security catalog (SignedData over a
// certificate trust list). Bounds are checked on every element; a malformed blob is a DerError
// with the byte offset, never an out-of-range read.

export class DerError extends Error {}

export interface DerNode {
  tag: number;
  /** Offset of the tag byte in the whole buffer. */
  offset: number;
  /** Offset of the content bytes in the whole buffer. */
  valueOffset: number;
  /** The content bytes. */
  value: Buffer;
  constructed: boolean;
}

/** Reads the element at pos of buf, whose byte 0 is at absolute offset `base`. */
function readOne(buf: Buffer, pos: number, end: number, base: number): { node: DerNode; next: number } {
  const at = base + pos;
  if (pos + 2 > end) throw new DerError(`truncated element at byte ${at}`);
  const tag = buf[pos];
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at byte ${at} is not supported`);
  let length = buf[pos + 1];
  let p = pos + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0) throw new DerError(`indefinite length at byte ${at} (BER, not DER)`);
    if (n > 4 || p + n > end) throw new DerError(`bad length at byte ${at}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[p + i];
    p += n;
  }
  if (p + length > end) throw new DerError(`element at byte ${at} runs past its parent (length ${length})`);
  return { node: { tag, offset: at, valueOffset: base + p, value: buf.subarray(p, p + length), constructed: (tag & 0x20) !== 0 }, next: p + length };
}

/** Parses the single element at the start of buf. */
export function derParse(buf: Buffer): DerNode {
  return readOne(buf, 0, buf.length, 0).node;
}

/** The child elements of a constructed element. */
export function derChildren(node: DerNode): DerNode[] {
  if (!node.constructed) throw new DerError(`element at byte ${node.offset} is not constructed`);
  const out: DerNode[] = [];
  let pos = 0;
  while (pos < node.value.length) {
    const { node: child, next } = readOne(node.value, pos, node.value.length, node.valueOffset);
    out.push(child);
    pos = next;
  }
  return out;
}

export const TAG = { integer: 0x02, octetString: 0x04, oid: 0x06, sequence: 0x30, set: 0x31, bmpString: 0x1e } as const;

export function derOid(node: DerNode): string {
  if (node.tag !== TAG.oid) throw new DerError(`expected an OBJECT IDENTIFIER at byte ${node.offset}`);
  const b = node.value;
  if (b.length === 0) throw new DerError(`empty OBJECT IDENTIFIER at byte ${node.offset}`);
  const parts = [Math.min(2, Math.floor(b[0] / 40)), b[0] - 40 * Math.min(2, Math.floor(b[0] / 40))];
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if (!(b[i] & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** Expects a tag and returns the node, with a located error otherwise. */
export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node) throw new DerError(`missing ${what}`);
  if (node.tag !== tag) throw new DerError(`expected ${what} (tag 0x${tag.toString(16)}) at byte ${node.offset}, found tag 0x${node.tag.toString(16)}`);
  return node;
}
