/**
 * The Redis key of client `id`'s bucket: `${prefix}{${id}}`, the id as the key's hash tag, so
 * that a client's state is on one Cluster slot and clients spread over every shard.
 *
 * An id is used as it is when it is printable ASCII without braces (what client ids are; keys
 * made before stay readable). Any other id is encoded: a brace would end the tag early, or
 * make it empty (`}`: Redis then hashes the whole key, cluster-key-slot does not), and a lone
 * surrogate reaches Redis as U+FFFD but is hashed by cluster-key-slot as itself; either way the
 * batch would go to a master that refuses it. Encoded, the tag is the id's UTF-16 code units
 * in base64url (lossless for every JavaScript string) and the key ends in `}~`, which no key of
 * a plain id does, so no two ids share a key.
 *
 * @example
 *   bucketKey("rl:", "c1");  // "rl:{c1}"
 *   bucketKey("rl:", "}x");  // "rl:{fQB4AA}~"
 */
export function bucketKey(prefix: string, id: string | number): string {
  const text = typeof id === "number" ? String(id) : id;
  return plain(text) ? `${prefix}{${text}}` : `${prefix}{${Buffer.from(text, "utf16le").toString("base64url")}}~`;
}

/** Whether `text` is printable ASCII (space to tilde) without `{` or `}`. */
function plain(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x7b || c === 0x7d) return false;
  }
  return true;
}
