// XML-RPC as XenAPI speaks it (the test server's side): methodCall in, methodResponse out.
// XenAPI conventions: a <value> without a type element is a string; 64-bit ints travel as strings;
// results are structs {Status: "Success", Value} or {Status: "Failure", ErrorDescription: [code, ...]}.
import sax from 'sax';

export type XrValue = string | number | boolean | null | XrValue[] | { [k: string]: XrValue };

interface Frame {
  kind: 'value' | 'array' | 'struct' | 'member';
  type?: string;
  text: string;
  items?: XrValue[];
  fields?: Record<string, XrValue>;
  name?: string;
  value?: XrValue;
  typed?: boolean;
}

export function parseMethodCall(xml: string): { method: string; params: XrValue[] } {
  const p = sax.parser(true, { trim: false });
  let method = '';
  const params: XrValue[] = [];
  const stack: Frame[] = [];
  let inName = false;
  let text = '';
  let scalarTag: string | undefined;

  const finish = (v: XrValue) => {
    const top = stack[stack.length - 1];
    if (!top) params.push(v);
    else if (top.kind === 'array') top.items!.push(v);
    else if (top.kind === 'member') top.value = v;
  };

  p.onopentag = (n) => {
    text = '';
    switch (n.name) {
      case 'methodName':
        inName = true;
        break;
      case 'value':
        stack.push({ kind: 'value', text: '' });
        break;
      case 'array':
        stack.push({ kind: 'array', text: '', items: [] });
        break;
      case 'struct':
        stack.push({ kind: 'struct', text: '', fields: {} });
        break;
      case 'member':
        stack.push({ kind: 'member', text: '' });
        break;
      case 'string': case 'int': case 'i4': case 'i8': case 'double': case 'boolean': case 'dateTime.iso8601': case 'nil':
        scalarTag = n.name;
        stack[stack.length - 1]!.typed = true;
        break;
    }
  };
  p.ontext = (t) => {
    text += t;
    const top = stack[stack.length - 1];
    if (top?.kind === 'value') top.text += t;
  };
  p.oncdata = p.ontext;
  p.onclosetag = (name) => {
    switch (name) {
      case 'methodName':
        method = text.trim();
        inName = false;
        break;
      case 'name': {
        const m = stack[stack.length - 1];
        if (m?.kind === 'member') m.name = text;
        break;
      }
      case 'string': case 'dateTime.iso8601':
        stack[stack.length - 1]!.value = text;
        scalarTag = undefined;
        break;
      case 'int': case 'i4': case 'i8': case 'double':
        stack[stack.length - 1]!.value = Number(text.trim());
        scalarTag = undefined;
        break;
      case 'boolean':
        stack[stack.length - 1]!.value = text.trim() === '1';
        scalarTag = undefined;
        break;
      case 'nil':
        stack[stack.length - 1]!.value = null;
        scalarTag = undefined;
        break;
      case 'array': {
        const a = stack.pop()!;
        stack[stack.length - 1]!.value = a.items!;
        stack[stack.length - 1]!.typed = true;
        break;
      }
      case 'struct': {
        const s = stack.pop()!;
        stack[stack.length - 1]!.value = s.fields!;
        stack[stack.length - 1]!.typed = true;
        break;
      }
      case 'member': {
        const m = stack.pop()!;
        const s = stack[stack.length - 1]!;
        s.fields![m.name ?? ''] = m.value ?? '';
        break;
      }
      case 'value': {
        const v = stack.pop()!;
        finish(v.typed ? (v.value ?? '') : v.text);
        break;
      }
    }
  };
  void inName;
  void scalarTag;
  p.write(xml).close();
  if (!method) throw new Error('no methodName in XML-RPC request');
  return { method, params };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** XenAPI encoding: ints as (untyped) strings, floats as <double>, strings untyped. */
export function formatValue(v: XrValue): string {
  if (v === null || v === undefined) return '<value></value>';
  if (typeof v === 'string') return `<value>${esc(v)}</value>`;
  if (typeof v === 'number') return Number.isInteger(v) ? `<value>${v}</value>` : `<value><double>${v}</double></value>`;
  if (typeof v === 'boolean') return `<value><boolean>${v ? 1 : 0}</boolean></value>`;
  if (Array.isArray(v)) return `<value><array><data>${v.map(formatValue).join('')}</data></array></value>`;
  return `<value><struct>${Object.entries(v)
    .map(([k, x]) => `<member><name>${esc(k)}</name>${formatValue(x)}</member>`)
    .join('')}</struct></value>`;
}

export function formatMethodResponse(v: XrValue): string {
  // No declaration and no whitespace around the root, like XAPI (xen-api's parser keeps text nodes).
  return `<methodResponse><params><param>${formatValue(v)}</param></params></methodResponse>`;
}
