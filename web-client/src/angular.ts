// Angular integration in the style of connect-es's Angular example: a
// provider function for ApplicationConfig and injection tokens. It needs no
// Angular compiler (no decorators), so it ships as plain ESM.
import {
  EnvironmentInjector,
  InjectionToken,
  inject,
  makeEnvironmentProviders,
  runInInjectionContext,
  type EnvironmentProviders,
} from "@angular/core";
import type { Interceptor } from "@connectrpc/connect";
import { createTokenClient, type AccessTokenGetter, type TokenClient, type TokenClientOptions } from "./client.js";

/** The TokenService client: `private readonly tokens = inject(TOKEN_CLIENT);` */
export const TOKEN_CLIENT = new InjectionToken<TokenClient>("lktoken TokenService client");

/**
 * Interceptors added to the client, in order, after the ones given to
 * {@link provideTokenClient}. Provide with `multi: true`; a factory runs in an
 * injection context, so an auth interceptor can `inject()` its token store:
 *
 *     { provide: TOKEN_CLIENT_INTERCEPTORS, multi: true, useFactory: () => authInterceptor(inject(Auth)) }
 */
export const TOKEN_CLIENT_INTERCEPTORS = new InjectionToken<Interceptor[]>("lktoken TokenService interceptors");

/** Configuration of {@link provideTokenClient}. */
export interface TokenClientConfig extends TokenClientOptions {
  /** Where lktoken serves, e.g. "https://tokens.example.com". */
  baseUrl: string;
  /**
   * Sends `Authorization: Bearer <token>`, called per request. It runs in the
   * injection context of the environment injector that provides the client,
   * so it may `inject()` the OIDC library's service:
   *
   *     getAccessToken: () => inject(OAuthService).getAccessToken()
   */
  getAccessToken?: AccessTokenGetter;
}

/**
 * Provides {@link TOKEN_CLIENT} for a standalone app:
 *
 *     export const appConfig: ApplicationConfig = {
 *       providers: [provideTokenClient({ baseUrl: "http://127.0.0.1:8080" })],
 *     };
 */
export function provideTokenClient(config: TokenClientConfig): EnvironmentProviders {
  const { baseUrl, interceptors = [], getAccessToken, ...options } = config;
  return makeEnvironmentProviders([
    {
      provide: TOKEN_CLIENT,
      useFactory: (): TokenClient => {
        const extra = inject(TOKEN_CLIENT_INTERCEPTORS, { optional: true }) ?? [];
        const injector = inject(EnvironmentInjector);
        return createTokenClient(baseUrl, {
          ...options,
          ...(getAccessToken && { getAccessToken: () => runInInjectionContext(injector, getAccessToken) }),
          interceptors: [...interceptors, ...extra.flat()],
        });
      },
    },
  ]);
}
