/* Hash routes (the gateway serves one index.html at `/`, so no server-side routing is needed). */
import { useEffect, useState } from 'react';

/** The pages of the dashboard. */
export type Route =
  | { page: 'accounts' }
  | { page: 'account'; accountId: string }
  | { page: 'setup' }
  | { page: 'audit'; clientOrderId: string };

/** Parse `#/accounts/ID`, `#/setup`, `#/audit/ID`; anything else is the accounts list. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'accounts' && parts[1]) return { page: 'account', accountId: parts[1] };
  if (parts[0] === 'setup') return { page: 'setup' };
  if (parts[0] === 'audit' && parts[1]) return { page: 'audit', clientOrderId: parts[1] };
  return { page: 'accounts' };
}

/** The hash link of a route. */
export function href(r: Route): string {
  switch (r.page) {
    case 'account':
      return `#/accounts/${encodeURIComponent(r.accountId)}`;
    case 'audit':
      return `#/audit/${encodeURIComponent(r.clientOrderId)}`;
    default:
      return `#/${r.page}`;
  }
}

/** The current route, following hash changes. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
