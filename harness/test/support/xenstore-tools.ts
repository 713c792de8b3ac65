// How Xen's xenstore command-line tools print and take values, for the doubles of dom0
// (test/hosts/xl/fake-dom0.ts, test/support/dom0-double). Seen with Debian's xen-utils 4.17 tools
// against the C xenstored (Xen's tools/xenstore xs_lib.c sanitise_value and unsanitise_value);
// harness/test/hosts/dom0-xenstore.test.ts holds these to the real tools where they are installed.

/** What `xenstore-read` and `xenstore-ls` print for a value: printable ASCII as it is, a backslash
 *  doubled, tab/newline/CR as \t \n \r, bytes below 8 as three octal digits, others as \xHH. */
export function toolPrints(value: string): string {
  let out = '';
  for (const b of Buffer.from(value, 'utf8')) {
    if (b === 0x5c) out += '\\\\';
    else if (b >= 0x20 && b <= 0x7e) out += String.fromCharCode(b);
    else if (b === 9) out += '\\t';
    else if (b === 10) out += '\\n';
    else if (b === 13) out += '\\r';
    else if (b < 8) out += '\\' + b.toString(8).padStart(3, '0');
    else out += '\\x' + b.toString(16).padStart(2, '0');
  }
  return out;
}

/** What `xenstore-write` stores for its argument: it reads escapes (\xH or \xHH, one to three octal
 *  digits, \t \n \r; any other escaped character stands for itself: `\q` is `q`, `\\` is `\`). */
export function toolStores(arg: string): string {
  const bytes: number[] = [];
  const src = Buffer.from(arg, 'utf8');
  for (let i = 0; i < src.length; i++) {
    if (src[i] !== 0x5c) {
      bytes.push(src[i]!);
      continue;
    }
    const rest = src.subarray(i + 1).toString('latin1');
    let m: RegExpExecArray | null;
    if ((m = /^x([0-9a-fA-F]{1,2})/.exec(rest))) {
      bytes.push(parseInt(m[1]!, 16));
      i += m[0].length;
    } else if ((m = /^[0-7]{1,3}/.exec(rest))) {
      bytes.push(parseInt(m[0], 8));
      i += m[0].length;
    } else if (rest.length === 0) {
      bytes.push(0); // a trailing backslash stores a NUL byte (seen with the real tool)
    } else {
      bytes.push(({ t: 9, n: 10, r: 13 } as Record<string, number>)[rest[0]!] ?? src[i + 1]!);
      i += 1;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
