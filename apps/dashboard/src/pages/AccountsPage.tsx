/* The accounts list (GET /api/accounts). */
import { useEffect, useState } from 'react';
import { api } from '../api';
import { ErrorLine, StateBadge, Table } from '../components/widgets';
import { usdt } from '../format';
import { href } from '../route';
import type { AccountListItem } from '../views';

export function AccountsPage() {
  const [rows, setRows] = useState<AccountListItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    api.accounts().then(setRows, setError);
  }, []);
  return (
    <section>
      <div className="row between">
        <h2>Accounts</h2>
        <a className="button" href={href({ page: 'setup' })}>
          New account
        </a>
      </div>
      <ErrorLine error={error} />
      {rows && (
        <Table rows={rows} rowKey={(a) => a.accountId} empty="No accounts yet: open one in Setup." testId="accounts-table" rowTestId="account-row" columns={[
          { head: 'account', cell: (a) => <a href={href({ page: 'account', accountId: a.accountId })} data-testid="account-link">{a.accountId}</a> },
          { head: 'venue', cell: (a) => a.venue ?? '—' },
          { head: 'symbol', cell: (a) => a.symbol ?? '—' },
          { head: 'leverage', cell: (a) => (a.leverage === null ? '—' : `${a.leverage}x`), num: true },
          { head: 'state', cell: (a) => <StateBadge state={a.tradingState} /> },
          { head: 'equity', cell: (a) => usdt(a.equity), num: true },
          { head: 'open positions', cell: (a) => a.openPositions, num: true },
        ]} />
      )}
    </section>
  );
}
