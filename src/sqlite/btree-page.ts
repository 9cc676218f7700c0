// What a B-tree page of a SQLite file points to (the file format's "B-tree
// pages" and "cell payload overflow pages"): an interior page's children, a
// leaf's overflow chains. Pure and defensive: a page that does not parse gives
// undefined or nothing, never an exception; read-ahead only uses it as a guide.

/** Where a page's B-tree header starts: after the 100-byte file header on page 1. */
export function headerOffset(pageNo: number): number {
  return pageNo === 1 ? 100 : 0;
}

const INTERIOR_INDEX = 2;
const INTERIOR_TABLE = 5;
const LEAF_INDEX = 10;
const LEAF_TABLE = 13;

/**
 * An interior page's child page numbers in the reverse of the check's order
 * (popping them gives the right-most child first, then cell n-1 down to cell
 * 0); empty for a leaf; undefined for a page that is not a B-tree page.
 * `headerOffset`: see headerOffset().
 */
export function interiorChildren(page: Uint8Array | undefined, headerOffset: number): number[] | undefined {
  if (!page || page.length < headerOffset + 12) return undefined;
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const type = page[headerOffset];
  if (type === LEAF_INDEX || type === LEAF_TABLE) return [];
  if (type !== INTERIOR_INDEX && type !== INTERIOR_TABLE) return undefined;
  const cells = view.getUint16(headerOffset + 3);
  const pointers = headerOffset + 12;
  if (pointers + cells * 2 > page.length) return undefined;
  const children: number[] = [];
  for (let i = 0; i < cells; i++) {
    const cell = view.getUint16(pointers + i * 2);
    if (cell + 4 > page.length) return undefined;
    children.push(view.getUint32(cell));
  }
  children.push(view.getUint32(headerOffset + 8));
  return children;
}

export interface OverflowChain {
  /** The chain's first overflow page. */
  readonly first: number;
  /** Pages in the chain, from the payload's size. */
  readonly pages: number;
}

/**
 * The overflow chains of a leaf page's cells, last cell first (the check's
 * order); none for any other page. `usableSize` is the page size less the
 * reserved bytes per page (file header byte 20).
 */
export function leafOverflowChains(page: Uint8Array, headerOffset: number, usableSize: number): OverflowChain[] {
  const type = page[headerOffset];
  if ((type !== LEAF_INDEX && type !== LEAF_TABLE) || page.length < headerOffset + 8 || usableSize < 480) return [];
  const view = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const cells = view.getUint16(headerOffset + 3);
  const pointers = headerOffset + 8;
  if (pointers + cells * 2 > page.length) return [];
  // the most and least payload kept on the page (file format, "Cell Payload Overflow Pages")
  const maxLocal = type === LEAF_TABLE ? usableSize - 35 : Math.floor(((usableSize - 12) * 64) / 255) - 23;
  const minLocal = Math.floor(((usableSize - 12) * 32) / 255) - 23;
  // A real leaf holds at most this many cells that overflow (each keeps minLocal bytes and a
  // pointer); a crafted one pointing many cells at one cell gets no more.
  const maxChains = Math.floor(usableSize / (minLocal + 4));
  const chains: OverflowChain[] = [];
  for (let i = cells - 1; i >= 0 && chains.length < maxChains; i--) {
    let at = view.getUint16(pointers + i * 2);
    const payload = varint(page, at);
    if (!payload) continue;
    at += payload.length;
    if (type === LEAF_TABLE) {
      const rowid = varint(page, at);
      if (!rowid) continue;
      at += rowid.length;
    }
    const size = payload.value;
    if (size <= maxLocal) continue;
    const spill = minLocal + ((size - minLocal) % (usableSize - 4));
    const local = spill <= maxLocal ? spill : minLocal;
    if (at + local + 4 > page.length) continue;
    chains.push({ first: view.getUint32(at + local), pages: Math.ceil((size - local) / (usableSize - 4)) });
  }
  return chains;
}

/** A SQLite varint (1-9 bytes, big-endian, 7 bits a byte but 8 in the ninth) at `at`; undefined past the end or beyond 2^53. */
function varint(page: Uint8Array, at: number): { value: number; length: number } | undefined {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    const byte = page[at + i];
    if (byte === undefined) return undefined;
    value = i === 8 ? value * 256 + byte : value * 128 + (byte & 0x7f);
    if (!Number.isSafeInteger(value)) return undefined;
    if (i === 8 || byte < 0x80) return { value, length: i + 1 };
  }
  return undefined;
}
