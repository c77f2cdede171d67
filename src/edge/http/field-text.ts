/** Text of HTTP header fields: trimming a value as RFC 9110 reads it, quoting one in a message. */

const OWS = /^[ \t]+|[ \t]+$/g;

/** `value` without the optional whitespace (spaces and tabs) around it (RFC 9110 §5.6.3). */
export function trimOws(value: string): string {
  return value.replace(OWS, "");
}

/** `value` in double quotes for a message, shortened when it is long. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}
