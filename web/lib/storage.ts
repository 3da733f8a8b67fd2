/** Keys the page keeps for this tab only (sessionStorage): the API key, the admin key. Storage may be disabled. */

export function loadTabValue(name: string): string | null {
  try {
    return sessionStorage.getItem(name);
  } catch {
    return null;
  }
}

/** Keep `value` for this tab (an empty one forgets it). */
export function saveTabValue(name: string, value: string | null): void {
  try {
    if (value && value.trim()) sessionStorage.setItem(name, value.trim());
    else sessionStorage.removeItem(name);
  } catch {
    /* storage disabled */
  }
}
