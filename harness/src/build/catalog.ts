// Reading a Windows security catalog (.cat): a PKCS#7 SignedData whose content is a certificate
// trust list (szOID_CTL). Each member names a file (the "File" name/value attribute) and records
// its digest in an SpcIndirectDataContent (Authenticode digest for PE files, flat hash otherwise).
// The signature over the catalog is checked by osslsigncode (signature.ts); this reads the list.
import { DerError, derChildren, derOid, derParse, expectTag, TAG, type DerNode } from './der';
import type { DigestAlgorithm } from './authenticode';

const OID = {
  signedData: '1.2.840.113549.1.7.2',
  ctl: '1.3.6.1.4.1.311.10.1',
  catNameValue: '1.3.6.1.4.1.311.12.2.1',
  spcIndirectData: '1.3.6.1.4.1.311.2.1.4',
  spcPeImageData: '1.3.6.1.4.1.311.2.1.15',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
} as const;

export interface CatalogMember {
  /** Hex (upper-case) of the recorded digest. */
  digest: string;
  algorithm: DigestAlgorithm | string;
  /** Whether the member is recorded as a PE image (Authenticode digest). */
  pe: boolean;
  /** The file name from the member's "File" attribute, when present. */
  file?: string;
}

export interface Catalog {
  members: CatalogMember[];
  /** Number of SignerInfos in the SignedData (0: the catalog is not signed). */
  signerCount: number;
}

export class CatalogFormatError extends Error {}

const utf16z = (b: Buffer) => b.toString('utf16le').replace(/\0+$/, '');

function bmpString(node: DerNode): string {
  const b = Buffer.from(node.value);
  if (b.length % 2 === 0) b.swap16();
  return b.toString('utf16le');
}

export function parseCatalog(bytes: Buffer): Catalog {
  try {
    const ci = derChildren(expectTag(derParse(bytes), TAG.sequence, 'ContentInfo'));
    if (derOid(ci[0]) !== OID.signedData) throw new CatalogFormatError('not a PKCS#7 SignedData');
    const sd = derChildren(expectTag(derChildren(expectTag(ci[1], 0xa0, '[0] content'))[0], TAG.sequence, 'SignedData'));
    // SignedData: version, digestAlgorithms, encapContentInfo, [0] certificates?, [1] crls?, signerInfos
    const encap = derChildren(expectTag(sd[2], TAG.sequence, 'encapContentInfo'));
    if (derOid(encap[0]) !== OID.ctl) throw new CatalogFormatError(`content type ${derOid(encap[0])} is not a certificate trust list`);
    const signerInfos = sd[sd.length - 1];
    const signerCount = signerInfos.tag === TAG.set ? derChildren(signerInfos).length : 0;
    const ctl = derChildren(expectTag(derChildren(expectTag(encap[1], 0xa0, '[0] eContent'))[0], TAG.sequence, 'CTL'));
    // CTL: subjectUsage, listIdentifier?, sequenceNumber?, thisUpdate, nextUpdate?, subjectAlgorithm, subjects?, extensions?
    const subjects = ctl.find((n, i) => i > 0 && n.tag === TAG.sequence && derChildren(n).every((c) => c.tag === TAG.sequence && derChildren(c)[0]?.tag === TAG.octetString));
    const members: CatalogMember[] = [];
    for (const entry of subjects ? derChildren(subjects) : []) members.push(readMember(entry));
    return { members, signerCount };
  } catch (e) {
    if (e instanceof DerError || e instanceof CatalogFormatError) throw new CatalogFormatError(e.message);
    if (e instanceof TypeError || e instanceof RangeError) throw new CatalogFormatError(`malformed catalog (${e.message})`);
    throw e;
  }
}

function readMember(entry: DerNode): CatalogMember {
  const [tag, attrs] = derChildren(entry);
  let digest = utf16z(tag.value);
  if (!/^[0-9A-Fa-f]+$/.test(digest)) digest = tag.value.toString('hex');
  const m: CatalogMember = { digest: digest.toUpperCase(), algorithm: 'unknown', pe: false };
  for (const attr of attrs ? derChildren(attrs) : []) {
    const [type, values] = derChildren(attr);
    const oid = derOid(type);
    const value = derChildren(values)[0];
    if (!value) continue;
    if (oid === OID.catNameValue) {
      const [name, , data] = derChildren(value);
      if (name && data && bmpString(name).toLowerCase() === 'file') m.file = utf16z(data.value);
    } else if (oid === OID.spcIndirectData) {
      const [data, digestInfo] = derChildren(value);
      m.pe = derOid(derChildren(data)[0]) === OID.spcPeImageData;
      const [alg, hash] = derChildren(digestInfo);
      const algOid = derOid(derChildren(alg)[0]);
      m.algorithm = algOid === OID.sha1 ? 'sha1' : algOid === OID.sha256 ? 'sha256' : algOid;
      m.digest = hash.value.toString('hex').toUpperCase();
    }
  }
  return m;
}
