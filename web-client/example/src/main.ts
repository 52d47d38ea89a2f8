import { bootstrapApplication } from "@angular/platform-browser";
import { provideTokenClient } from "@lktoken/web-client/angular";
import { AppComponent } from "./app/app.component";
import { loadValidation } from "./app/validation";

// Where lktoken serves. A real app would take it from its environment; the
// example reads it from the query string so a test can point it anywhere:
// ?tokens=http://127.0.0.1:8080 (default), &validate=off to skip the
// client-side check and see the server's own verdict.
const params = new URLSearchParams(location.search);

bootstrapApplication(AppComponent, {
  providers: [
    provideTokenClient({
      baseUrl: params.get("tokens") ?? "http://127.0.0.1:8080",
      // Off with ?validate=off; otherwise loaded on first use.
      ...(params.get("validate") !== "off" && { validate: loadValidation }),
      defaultTimeoutMs: 15_000,
    }),
  ],
}).catch((err: unknown) => console.error(err));
