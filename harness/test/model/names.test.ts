// Driver names and XenbusState names are defined once (model/spec.ts DRIVER_NAMES, model/xenbus.ts).
// What cannot import them (the XSDs editors and xmllint read, Xen's own header) is compared here.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPABILITIES } from '../../src/model/catalog';
import { DRIVER_NAMES } from '../../src/model/spec';
import { XENBUS_STATE_NAMES, XenbusState, xenbusStateName } from '../../src/model/xenbus';
import { readXmlFile, type XmlElement } from '../../src/xml';
import { skipUnlessTool } from '../support/tools';

const repo = join(__dirname, '..', '..', '..');

function simpleType(xsd: string, name: string): XmlElement {
  const { root, problems } = readXmlFile(join(repo, xsd));
  if (!root) throw new Error(problems.map((p) => p.message).join('\n'));
  const found = root.childrenNamed('xs:simpleType').find((s) => s.attr('name') === name);
  if (!found) throw new Error(`${xsd}: no simpleType ${name}`);
  return found;
}

const enumeration = (st: XmlElement) => st.child('xs:restriction')!.childrenNamed('xs:enumeration').map((e) => e.attr('value'));

t.test('the XSDs list the model’s driver names, in its order', async (t) => {
  t.same(enumeration(simpleType('drivers-spec/driver-spec.xsd', 'driverName')), [...DRIVER_NAMES]);
  t.same(enumeration(simpleType('scenarios/scenario.xsd', 'driver')), [...DRIVER_NAMES]);
});

t.test('the scenario XSD names exactly the model’s host capabilities (a scenario may need any of them)', async (t) => {
  t.same(enumeration(simpleType('scenarios/scenario.xsd', 'capability')).sort(), Object.keys(CAPABILITIES).sort());
});

t.test('the driver-spec XSD accepts exactly the model’s XenbusState names', async (t) => {
  const pattern = simpleType('drivers-spec/driver-spec.xsd', 'xenbusState').child('xs:restriction')!.child('xs:pattern')!.attr('value');
  t.equal(pattern, `[0-9]+|${XENBUS_STATE_NAMES.join('|')}`);
});

t.test('XenbusState is enum xenbus_state of xen/include/public/io/xenbus.h', { skip: skipUnlessTool('/usr/include/xen/io/xenbus.h') }, async (t) => {
  const header = readFileSync('/usr/include/xen/io/xenbus.h', 'utf8');
  const body = /enum\s+xenbus_state\s*\{([^}]*)\}/.exec(header)![1]!;
  const fromHeader = Object.fromEntries([...body.matchAll(/XenbusState(\w+)\s*=\s*(\d+)/g)].map((m) => [m[1], Number(m[2])]));
  t.same(XenbusState, fromHeader);
  t.equal(xenbusStateName(2), 'InitWait');
  t.equal(xenbusStateName(9), 'invalid(9)');
});
