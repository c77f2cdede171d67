const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Whether `text` is an instant spelled exactly as `Date.prototype.toISOString` spells it, e.g.
 * `2026-11-26T11:00:00.000Z`. Impossible dates such as `2026-02-30` or `24:00` are refused
 * (`Date.parse` would roll them over), so every instant has one spelling and string order is
 * time order.
 */
export function isIsoUtcInstant(text: unknown): text is string {
  if (typeof text !== "string" || !ISO_UTC.test(text)) return false;
  const time = Date.parse(text);
  return !Number.isNaN(time) && new Date(time).toISOString() === text;
}
