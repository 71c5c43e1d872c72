import { render } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { LocationProvider, Route, Router } from 'preact-iso';
import { api, type SessionInfo, setCsrfToken, whenSignedOut } from './api.js';
import { LanguagePicker } from './components/language.js';
import { t, useLanguage } from './i18n.js';
import { Account } from './pages/account.js';
import { Alerts } from './pages/alerts.js';
import { DevicePage, Devices } from './pages/devices.js';
import { Mine } from './pages/mine.js';
import { Queue } from './pages/queue.js';
import { SignIn } from './pages/sign-in.js';
import { StatsPage } from './pages/stats.js';
import { TicketPage } from './pages/ticket.js';
import { Users } from './pages/users.js';
import { SessionContext } from './session.js';
import 'uplot/dist/uPlot.min.css';
import './styles.css';

/**
 * The maintenance console (issue 21): served by the gateway at `/`, on its API, signed in with a
 * session cookie. Unsigned, it shows the sign-in form; a session that ends brings it back.
 */
function App() {
  useLanguage();
  const [session, setSession] = useState<SessionInfo | null | undefined>(undefined);
  const [ended, setEnded] = useState(false);
  useEffect(() => {
    whenSignedOut(() => {
      setEnded(true);
      setSession(null);
    });
    api<SessionInfo | { user: null }>('GET', '/session')
      .then((s) => {
        if (s.user) setCsrfToken((s as SessionInfo).csrfToken);
        setSession(s.user ? (s as SessionInfo) : null);
      })
      .catch(() => setSession(null));
  }, []);
  if (session === undefined) return null;
  if (session === null)
    return (
      <SignIn
        ended={ended}
        onSignedIn={(s) => {
          setCsrfToken(s.csrfToken);
          setEnded(false);
          setSession(s);
        }}
      />
    );
  return (
    <SessionContext.Provider value={session}>
      <LocationProvider>
        <Shell
          onSignOut={async () => {
            await api('DELETE', '/session').catch(() => undefined);
            setCsrfToken('');
            setSession(null);
          }}
        >
          <Router>
            <Route path="/" component={Queue} />
            <Route path="/tickets/:id" component={TicketPage} />
            <Route path="/my" component={Mine} />
            <Route path="/alerts" component={Alerts} />
            <Route path="/devices" component={Devices} />
            <Route path="/devices/:id" component={DevicePage} />
            <Route path="/stats" component={StatsPage} />
            <Route path="/users" component={Users} />
            <Route path="/account" component={Account} />
            <Route default component={Queue} />
          </Router>
        </Shell>
      </LocationProvider>
    </SessionContext.Provider>
  );
}

function Shell(props: { onSignOut: () => void; children: preact.ComponentChildren }) {
  const session = useContext(SessionContext);
  return (
    <>
      <a class="skip" href="#main">
        {t('nav.skip')}
      </a>
      <header class="top">
        <a class="brand" href="/">
          {t('app.name')}
        </a>
        <nav aria-label={t('nav.main')}>
          <a href="/">{t('nav.queue')}</a>
          {session.user.technician ? <a href="/my">{t('nav.mine')}</a> : null}
          {session.user.role !== 'customer' ? <a href="/alerts">{t('nav.alerts')}</a> : null}
          {session.user.role !== 'customer' ? <a href="/devices">{t('nav.devices')}</a> : null}
          {session.user.role === 'supervisor' || session.user.role === 'admin' ? (
            <a href="/stats">{t('nav.stats')}</a>
          ) : null}
          {session.user.role === 'admin' ? <a href="/users">{t('nav.users')}</a> : null}
        </nav>
        <a class="who" href="/account" aria-label={`${t('nav.account')}: ${session.user.displayName}`}>
          {session.user.displayName} <small>({t(`role.${session.user.role}`)})</small>
        </a>
        <LanguagePicker />
        <button type="button" onClick={props.onSignOut}>
          {t('nav.signOut')}
        </button>
      </header>
      <main id="main">{props.children}</main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
