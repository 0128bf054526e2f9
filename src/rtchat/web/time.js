// Wire timestamps are ISO 8601 UTC; people read local wall-clock time.

const pad = (n) => String(n).padStart(2, '0');

/** "HH:MM" in the browser's time zone; falls back to now for a missing or bad value. */
export function formatTime(iso) {
  let date = new Date(iso);
  if (Number.isNaN(date.getTime())) date = new Date();
  return `${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** A valid ISO string for <time datetime>, even when the server sent none. */
export function isoOrNow(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
}
