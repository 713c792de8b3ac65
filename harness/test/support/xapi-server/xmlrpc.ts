// XML-RPC as XenAPI speaks it (the test server's side): methodCall in, methodResponse out.
// XenAPI conventions: a <value> without a type element is a string; 64-bit ints travel as strings;
// results are structs {Status: "Success", Value} or {Status: "Failure", ErrorDescription: [code, ...]}.
// Requests are read with winpv's located XML reader; responses built with xml2js's Builder.
import { Builder } from 'xml2js';
import { formatProblem } from '../../../src/model/errors';
import { parseXml, type XmlElement } from '../../../src/xml';

export type XrValue = string | number | boolean | null | XrValue[] | { [k: string]: XrValue };

export function parseMethodCall(xml: string): { method: string; params: XrValue[] } {
  const { root, problems } = parseXml(xml, 'XML-RPC request');
  if (!root) throw new Error(problems.map(formatProblem).join('\n'));
  const method = root.child('methodName')?.trimmedText ?? '';
  if (!method) throw new Error('no methodName in XML-RPC request');
  return { method, params: (root.child('params')?.childrenNamed('param') ?? []).map((p) => readValue(p.child('value'))) };
}

function readValue(v: XmlElement | undefined): XrValue {
  const typed = v?.children[0];
  if (!typed) return v?.text ?? '';
  switch (typed.name) {
    case 'string': case 'dateTime.iso8601':
      return typed.text;
    case 'int': case 'i4': case 'i8': case 'double':
      return Number(typed.trimmedText);
    case 'boolean':
      return typed.trimmedText === '1';
    case 'nil':
      return null;
    case 'array':
      return (typed.child('data')?.childrenNamed('value') ?? []).map(readValue);
    case 'struct':
      return Object.fromEntries(typed.childrenNamed('member').map((m) => [m.child('name')?.text ?? '', readValue(m.child('value'))]));
    default:
      return '';
  }
}

// No declaration and no whitespace anywhere, like XAPI (xen-api's parser keeps text nodes).
const fragment = new Builder({ headless: true, renderOpts: { pretty: false } });

/** XenAPI encoding: ints as (untyped) strings, floats as <double>, strings untyped. */
function valueObject(v: XrValue): unknown {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : { double: v };
  if (typeof v === 'boolean') return { boolean: v ? 1 : 0 };
  if (Array.isArray(v)) return { array: { data: { value: v.map(valueObject) } } };
  return { struct: { member: Object.entries(v).map(([name, x]) => ({ name, value: valueObject(x) })) } };
}

export const formatValue = (v: XrValue): string => fragment.buildObject({ value: valueObject(v) });

export const formatMethodResponse = (v: XrValue): string =>
  fragment.buildObject({ methodResponse: { params: { param: { value: valueObject(v) } } } });
