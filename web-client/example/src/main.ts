import { bootstrapApplication } from "@angular/platform-browser";
import { inject } from "@angular/core";
import { provideTokenClient } from "@lktoken/web-client/angular";
import { AppComponent } from "./app/app.component";
import { loadValidation } from "./app/validation";
import { pageQuery, popupAnswer, SIGN_IN, SignIn } from "./app/sign-in";

// Where lktoken serves. A real app would take it from its environment; the
// example reads it from the query string so a test can point it anywhere:
// ?tokens=http://127.0.0.1:8080 (default), &validate=off to skip the
// client-side check and see the server's own verdict, and
// &issuer=...&client_id=...&audience=... to sign in with an OpenID Connect
// provider first (./app/sign-in.ts) and send its access token to lktoken.
async function main(): Promise<void> {
  const { params, answer } = pageQuery();
  const issuer = params.get("issuer");
  const signIn = issuer === null
    ? null
    : new SignIn({ issuer, clientId: params.get("client_id") ?? "", audience: params.get("audience") ?? "" });
  if (signIn !== null && answer !== undefined) {
    await signIn.complete(answer.code, answer.state);
  }
  await bootstrapApplication(AppComponent, {
    providers: [
      { provide: SIGN_IN, useValue: signIn },
      provideTokenClient({
        baseUrl: params.get("tokens") ?? "http://127.0.0.1:8080",
        // Off with ?validate=off; otherwise loaded on first use.
        ...(params.get("validate") !== "off" && { validate: loadValidation }),
        // Signed in: "Authorization: Bearer <access token>" on every call, and
        // (by default with getAccessToken) the identity may be left empty.
        ...(signIn !== null && { getAccessToken: () => inject(SIGN_IN)?.accessToken() }),
        defaultTimeoutMs: 15_000,
      }),
    ],
  });
}

// The sign-in popup only hands its answer to the page that opened it.
if (!popupAnswer()) {
  main().catch((err: unknown) => console.error(err));
}
