/* The shell: login gate, navigation, pages. */
import { useEffect, useState } from 'react';
import { api, isLoggedIn, onAuthChange } from './api';
import { AccountPage } from './pages/AccountPage';
import { AccountsPage } from './pages/AccountsPage';
import { AuditPanel } from './pages/AuditPanel';
import { ErrorBoundary } from './components/widgets';
import { LoginPage } from './pages/LoginPage';
import { SetupPage } from './pages/SetupPage';
import { href, useRoute } from './route';

export function App() {
  const [loggedIn, setLoggedIn] = useState(isLoggedIn());
  const [me, setMe] = useState<{ username: string; role: string } | null>(null);
  const route = useRoute();
  useEffect(() => onAuthChange(setLoggedIn), []);
  useEffect(() => {
    if (!loggedIn) return setMe(null);
    api.me().then(setMe, () => setMe(null));
  }, [loggedIn]);
  if (!loggedIn) return <LoginPage />;
  return (
    <div className="app">
      <nav className="topbar">
        <a className="brand" href={href({ page: 'accounts' })}>
          Bulwark
        </a>
        <a href={href({ page: 'accounts' })} className={route.page === 'accounts' || route.page === 'account' ? 'active' : ''} data-testid="nav-accounts">
          Accounts
        </a>
        <a href={href({ page: 'setup' })} className={route.page === 'setup' ? 'active' : ''} data-testid="nav-setup">
          Setup
        </a>
        <span className="spacer" />
        {me && (
          <span className="muted small" data-testid="whoami">
            {me.username} ({me.role})
          </span>
        )}
        <button type="button" className="ghost" data-testid="logout" onClick={() => void api.logout()}>
          Log out
        </button>
      </nav>
      <main>
        {/* Keyed by the route: another page starts without the failure of the one before. */}
        <ErrorBoundary key={href(route)} label="This page">
          {route.page === 'accounts' && <AccountsPage />}
          {route.page === 'account' && <AccountPage key={route.accountId} accountId={route.accountId} />}
          {route.page === 'setup' && <SetupPage />}
          {route.page === 'audit' && <AuditPanel clientOrderId={route.clientOrderId} />}
        </ErrorBoundary>
      </main>
    </div>
  );
}
