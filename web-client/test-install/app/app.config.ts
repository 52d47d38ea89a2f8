// Written over the app.config.ts of a fresh `ng new` app by install.test.ts.
import { ApplicationConfig, provideBrowserGlobalErrorListeners } from "@angular/core";
import { provideRouter } from "@angular/router";
import { provideTokenClient } from "@lktoken/web-client/angular";
import { routes } from "./app.routes";

const params = new URLSearchParams(location.search);

export const appConfig: ApplicationConfig = {
  providers: [
    provideBrowserGlobalErrorListeners(),
    provideRouter(routes),
    provideTokenClient({
      baseUrl: params.get("tokens") ?? "http://127.0.0.1:8080",
      validate: () => import("@lktoken/web-client/validation"),
    }),
  ],
};
