// Written over the app.ts of a fresh `ng new` app by install.test.ts: gets a
// token through the package's Angular provider, then has a bad request
// refused by the lazily loaded client-side validation.
import { Component, inject, signal, type OnInit } from "@angular/core";
import { expiresAtDate, tokenErrorOf } from "@lktoken/web-client";
import { TOKEN_CLIENT } from "@lktoken/web-client/angular";

@Component({
  selector: "app-root",
  template: `
    <h1>fresh</h1>
    <p data-testid="token">{{ token() }}</p>
    <p data-testid="refused">{{ refused() }}</p>
  `,
})
export class App implements OnInit {
  private readonly tokens = inject(TOKEN_CLIENT);
  protected readonly token = signal("pending");
  protected readonly refused = signal("pending");

  async ngOnInit(): Promise<void> {
    try {
      const res = await this.tokens.generateToken({ roomName: "fresh-app", participantIdentity: "ng21" });
      this.token.set(`${res.participantIdentity} in ${res.roomName} until ${expiresAtDate(res).toISOString()}`);
    } catch (err) {
      this.token.set(`failed: ${tokenErrorOf(err).message}`);
    }
    try {
      await this.tokens.generateToken({ roomName: " ", participantIdentity: "ng21" });
      this.refused.set("accepted");
    } catch (err) {
      const e = tokenErrorOf(err);
      this.refused.set(e.kind === "invalid_argument" ? `roomName: ${e.fields.roomName}` : `failed: ${e.message}`);
    }
  }
}
