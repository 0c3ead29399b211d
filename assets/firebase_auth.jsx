// Firebase sign-in for AUTH_PROVIDER=firebase (wrapped by components/firebase_login.py).
//
// The page signs in with the Firebase JS SDK (Google, or email and password) and hands
// each ID token to the backend (`onToken`), which checks it with firebase-admin, keeps it
// as the session cookie, and re-checks it on every event.  The SDK renews the token
// hourly; `onIdTokenChanged` reports each new one.
//
// The web config (apiKey, authDomain, projectId) is public by design; `emulatorHost`
// (development and tests only) points the SDK at the Auth emulator.
import React, { useEffect, useRef, useState } from "react";
import { getApps, initializeApp } from "firebase/app";
import {
  GoogleAuthProvider,
  connectAuthEmulator,
  createUserWithEmailAndPassword,
  getAuth,
  onIdTokenChanged,
  sendEmailVerification,
  signInWithEmailAndPassword,
  signInWithPopup,
  signOut,
} from "firebase/auth";

const APP_NAME = "llmdash";

// The page is prerendered on the server, where there is no window (and no Firebase).
function authFor(config) {
  if (typeof window === "undefined" || !config || !config.projectId) return null;
  const app =
    getApps().find((existing) => existing.name === APP_NAME) ||
    initializeApp(
      {
        // The emulator takes any API key; a real project needs its own.
        apiKey: config.apiKey || (config.emulatorHost ? "emulator-api-key" : ""),
        authDomain: config.authDomain || undefined,
        projectId: config.projectId,
      },
      APP_NAME,
    );
  const auth = getAuth(app);
  // connectAuthEmulator may run once per Auth instance, before it is used.
  if (config.emulatorHost && !auth.emulatorConfig) {
    connectAuthEmulator(auth, `http://${config.emulatorHost}`, { disableWarnings: true });
  }
  return auth;
}

// Reflex hands a new callback on each render: always call the latest one.
function useLatest(value) {
  const ref = useRef(value);
  ref.current = value;
  return ref;
}

const FRIENDLY = {
  "auth/invalid-credential": "Email or password is incorrect.",
  "auth/invalid-login-credentials": "Email or password is incorrect.",
  "auth/wrong-password": "Email or password is incorrect.",
  "auth/user-not-found": "Email or password is incorrect.",
  "auth/invalid-email": "Enter an email address like name@example.com.",
  "auth/missing-password": "Enter your password.",
  "auth/weak-password": "Use a longer password (at least 6 characters).",
  "auth/email-already-in-use": "That email already has an account: sign in instead.",
  "auth/too-many-requests": "Too many attempts. Try again in a few minutes.",
  "auth/popup-blocked": "The browser blocked the Google window. Allow pop-ups for this site.",
  "auth/network-request-failed": "Firebase could not be reached. Check the connection and try again.",
};

function friendly(error) {
  if (error && (error.code === "auth/popup-closed-by-user" || error.code === "auth/cancelled-popup-request")) {
    return "";
  }
  return (error && FRIENDLY[error.code]) || (error && error.message) || String(error);
}

const box = { display: "flex", flexDirection: "column", gap: "0.75rem", width: "100%", maxWidth: "22rem" };
const input = { padding: "0.5rem 0.6rem", border: "1px solid var(--gray-7, #ccc)", borderRadius: "6px", fontSize: "0.95rem" };
const button = { padding: "0.5rem 0.8rem", borderRadius: "6px", border: "1px solid var(--gray-7, #ccc)", background: "var(--gray-2, #fafafa)", cursor: "pointer", fontSize: "0.95rem" };
const primary = { ...button, background: "var(--accent-9, #3e63dd)", color: "white", border: "none" };
const note = { fontSize: "0.9rem", margin: 0 };

export function FirebaseSignIn({ config, signOutFirst, allowSignUp, message, onToken }) {
  const [auth, setAuth] = useState(null);
  const [user, setUser] = useState(null);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const [signingOut, setSigningOut] = useState(false);
  const sendToken = useLatest(onToken);
  const { apiKey, authDomain, projectId, emulatorHost } = config || {};

  useEffect(() => {
    const current = authFor({ apiKey, authDomain, projectId, emulatorHost });
    if (!current) return undefined;
    setAuth(current);
    let stopped = false;
    let unsubscribe = () => {};
    // After "Sign out" the SDK still remembers the user: forget it before listening, and show
    // the form only once it is forgotten (leaving earlier could leave the SDK signed in).
    setSigningOut(Boolean(signOutFirst));
    (signOutFirst ? signOut(current) : Promise.resolve())
      .catch(() => {})
      .then(() => {
        if (stopped) return;
        setSigningOut(false);
        unsubscribe = onIdTokenChanged(current, async (next) => {
          setUser(next);
          if (next) sendToken.current(await next.getIdToken());
        });
      });
    return () => {
      stopped = true;
      unsubscribe();
    };
  }, [apiKey, authDomain, projectId, emulatorHost, signOutFirst]);

  const run = async (action) => {
    setError("");
    setNotice("");
    setBusy(true);
    try {
      await action();
    } catch (err) {
      setError(friendly(err));
    } finally {
      setBusy(false);
    }
  };

  const withEmail = (event) => {
    event.preventDefault();
    run(() => signInWithEmailAndPassword(auth, email.trim(), password));
  };
  const createAccount = () =>
    run(async () => {
      const made = await createUserWithEmailAndPassword(auth, email.trim(), password);
      await sendEmailVerification(made.user);
      setNotice(`We sent a link to ${made.user.email}. Open it, then press "I have verified my email".`);
    });
  const withGoogle = () => run(() => signInWithPopup(auth, new GoogleAuthProvider()));
  // The token says email_verified=false until it is renewed after the user has verified;
  // the renewal reaches the backend through onIdTokenChanged.
  const verified = () =>
    run(async () => {
      await user.reload();
      await user.getIdToken(true);
    });
  const resend = () =>
    run(async () => {
      await sendEmailVerification(user);
      setNotice(`We sent another link to ${user.email}.`);
    });

  if (!auth) return <p style={note}>Loading sign-in…</p>;
  if (signingOut) return <p style={note}>Signing out…</p>;
  const waitingForVerification = user && !user.emailVerified;
  return (
    <div style={box} id="firebase-sign-in">
      {message ? (
        <p style={{ ...note, color: "var(--red-11, #c00)" }} id="firebase-message" role="alert">
          {message}
        </p>
      ) : null}
      {error ? (
        <p style={{ ...note, color: "var(--red-11, #c00)" }} id="firebase-error" role="alert">
          {error}
        </p>
      ) : null}
      {notice ? <p style={note}>{notice}</p> : null}
      {waitingForVerification ? (
        <>
          <p style={note}>Signed in to Firebase as {user.email}, whose address is not verified yet.</p>
          <button type="button" style={primary} disabled={busy} onClick={verified} id="firebase-verified">
            I have verified my email
          </button>
          <button type="button" style={button} disabled={busy} onClick={resend}>
            Send the link again
          </button>
          <button type="button" style={button} disabled={busy} onClick={() => run(() => signOut(auth))}>
            Use another account
          </button>
        </>
      ) : (
        <>
          <button type="button" style={button} disabled={busy} onClick={withGoogle} id="firebase-google">
            Sign in with Google
          </button>
          <form style={box} onSubmit={withEmail}>
            <input style={input} type="email" placeholder="Email" aria-label="Email" autoComplete="email" value={email}
              onChange={(e) => setEmail(e.target.value)} id="firebase-email" required />
            <input style={input} type="password" placeholder="Password" aria-label="Password" autoComplete="current-password"
              value={password} onChange={(e) => setPassword(e.target.value)} id="firebase-password" required />
            <button type="submit" style={primary} disabled={busy} id="firebase-email-sign-in">
              Sign in
            </button>
            {allowSignUp ? (
              <button type="button" style={button} disabled={busy} onClick={createAccount} id="firebase-sign-up">
                Create an account
              </button>
            ) : null}
          </form>
        </>
      )}
    </div>
  );
}

// Mounted on signed-in pages: hands each renewed ID token to the backend, so an open page
// stays signed in past the token's hour.  Renders nothing.
export function FirebaseTokenKeeper({ config, onToken }) {
  const sendToken = useLatest(onToken);
  const { apiKey, authDomain, projectId, emulatorHost } = config || {};
  useEffect(() => {
    const current = authFor({ apiKey, authDomain, projectId, emulatorHost });
    if (!current) return undefined;
    return onIdTokenChanged(current, async (next) => {
      // Signed out elsewhere: the next event's check sends this page to the login page.
      if (next) sendToken.current(await next.getIdToken());
    });
  }, [apiKey, authDomain, projectId, emulatorHost]);
  return null;
}
