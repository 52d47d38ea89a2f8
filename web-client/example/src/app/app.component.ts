import { ChangeDetectionStrategy, Component, inject, signal, type OnDestroy } from "@angular/core";
import { expiresAtDate, tokenErrorOf, type FieldErrors } from "@lktoken/web-client";
import { TOKEN_CLIENT } from "@lktoken/web-client/angular";
import { tokenSource } from "@lktoken/web-client/livekit";
import type { Room } from "livekit-client";
import { loadValidation } from "./validation";
import { SIGN_IN } from "./sign-in";

// livekit-client (~550 KB) loads when the user joins, so the app's initial
// bundle stays within Angular's default budgets.
const loadLivekit = () => import("livekit-client");

type Phase = "idle" | "requesting token" | "connecting" | "joined" | "left";

/**
 * A voice-room join form: gets a token from lktoken through a LiveKit
 * TokenSource backed by the typed client, joins with livekit-client and
 * publishes the microphone. Field errors come from the client-side check or,
 * the same way, from the server's 400. Leave and Join again reuse the token
 * while it is valid for more than a minute.
 */
@Component({
  selector: "app-root",
  changeDetection: ChangeDetectionStrategy.OnPush,
  template: `
    <h1>Voice room</h1>
    @if (signIn) {
      @if (signedInAs(); as sub) {
        <p data-testid="signed-in">signed in as {{ sub }}</p>
        <button type="button" data-testid="sign-out" (click)="signOut()">Sign out</button>
      } @else {
        <label for="login-hint">Account (optional)</label>
        <input id="login-hint" name="login-hint" [value]="loginHint()" (input)="loginHint.set(value($event))" />
        <button type="button" data-testid="sign-in" (click)="startSignIn()">Sign in</button>
        <button type="button" data-testid="sign-in-popup" (click)="startSignInPopup()">Sign in here (popup)</button>
      }
    }
    <form (submit)="$event.preventDefault(); join()" (focusin)="preloadValidation()" novalidate>
      <label for="room">Room</label>
      <input id="room" name="room" [value]="room()" (input)="room.set(value($event))"
             [attr.aria-invalid]="!!errors().roomName" />
      @if (errors().roomName; as e) { <p class="field-error" data-testid="error-roomName">{{ e }}</p> }

      <label for="identity">Your id{{ signIn ? " (empty: the one you signed in with)" : "" }}</label>
      <input id="identity" name="identity" [value]="identity()" (input)="identity.set(value($event))"
             [attr.aria-invalid]="!!errors().participantIdentity" />
      @if (errors().participantIdentity; as e) { <p class="field-error" data-testid="error-participantIdentity">{{ e }}</p> }

      <label for="name">Display name (optional)</label>
      <input id="name" name="name" [value]="name()" (input)="name.set(value($event))"
             [attr.aria-invalid]="!!errors().participantName" />
      @if (errors().participantName; as e) { <p class="field-error" data-testid="error-participantName">{{ e }}</p> }

      <button type="submit" [disabled]="phase() === 'requesting token' || phase() === 'connecting' || phase() === 'joined'">{{ phase() === 'left' ? 'Join again' : 'Join' }}</button>
      <button type="button" (click)="tryCamera()" [disabled]="phase() !== 'joined'">Try camera</button>
      <button type="button" (click)="leave()" [disabled]="phase() !== 'joined'">Leave</button>
    </form>

    @if (failure(); as f) { <p class="error" data-testid="failure">{{ f }}</p> }

    <dl class="state">
      <dt>Phase</dt><dd data-testid="phase">{{ phase() }}</dd>
      <dt>Connection</dt><dd data-testid="connection">{{ connection() }}</dd>
      <dt>Disconnected by</dt><dd data-testid="disconnect-reason">{{ disconnectReason() }}</dd>
      <dt>Joined as</dt><dd data-testid="joined-as">{{ joinedAs() }}</dd>
      <dt>Token expires</dt><dd data-testid="expires">{{ expires() }}</dd>
      <dt>Token</dt><dd data-testid="token-id">{{ tokenId() }}</dd>
      <dt>Microphone</dt><dd data-testid="microphone">{{ microphone() }}</dd>
      <dt>Camera</dt><dd data-testid="camera">{{ camera() }}</dd>
    </dl>
  `,
})
export class AppComponent implements OnDestroy {
  private readonly params = new URLSearchParams(location.search);
  /**
   * One source for the page: it caches the token (reused until 60 s before
   * it expires, refetched when the request changes). ?lifetime=SECONDS asks
   * for a shorter lifetime than the server's default (tests).
   */
  private readonly tokens = tokenSource(inject(TOKEN_CLIENT), () =>
    this.params.has("lifetime") ? { expirationSeconds: Number(this.params.get("lifetime")) } : {},
  );
  private lkRoom: Room | undefined;
  /** Set when the page signs in with an OpenID Connect provider (?issuer=...). */
  protected readonly signIn = inject(SIGN_IN, { optional: true });
  protected readonly signedInAs = signal(this.signIn?.subject() ?? "");
  protected readonly loginHint = signal("");

  protected readonly room = signal("");
  protected readonly identity = signal("");
  protected readonly name = signal("");
  protected readonly errors = signal<FieldErrors>({});
  protected readonly failure = signal("");
  protected readonly phase = signal<Phase>("idle");
  protected readonly connection = signal<string>("disconnected");
  /** Why LiveKit disconnected the room (e.g. DUPLICATE_IDENTITY), "-" before. */
  protected readonly disconnectReason = signal("-");
  protected readonly joinedAs = signal("-");
  protected readonly expires = signal("-");
  /** The token's signature, shortened: shows whether a join reused it. */
  protected readonly tokenId = signal("-");
  protected readonly microphone = signal("off");
  protected readonly camera = signal("off");

  /** The form is being used: fetch the validation chunk now, before Join needs it. */
  protected preloadValidation(): void {
    if (!this.validationRequested) {
      this.validationRequested = true;
      loadValidation().catch(() => undefined); // the client retries, and the server validates anyway
    }
  }
  private validationRequested = false;

  protected startSignIn(): void {
    this.signIn?.start(this.loginHint()).catch((err: unknown) => this.failure.set(`sign-in failed: ${String(err)}`));
  }

  /**
   * Signs in without leaving the page: its token source stays, and hands the
   * new user no token of the previous one's (it follows its caller).
   */
  protected startSignInPopup(): void {
    this.signIn
      ?.startPopup(this.loginHint())
      .then(() => this.signedInAs.set(this.signIn?.subject() ?? ""))
      .catch((err: unknown) => this.failure.set(`sign-in failed: ${String(err)}`));
  }

  /**
   * Forgets the access token. The token source needs no invalidate() for
   * the next user: it follows its caller (the browser suite relies on
   * that); an app that wants the cached token gone at once calls it.
   */
  protected signOut(): void {
    this.signIn?.signOut();
    this.signedInAs.set("");
  }

  protected value(event: Event): string {
    return (event.target as HTMLInputElement).value;
  }

  protected async join(): Promise<void> {
    this.errors.set({});
    this.failure.set("");
    this.phase.set("requesting token");
    let token: string;
    let serverUrl: string;
    try {
      ({ serverUrl, participantToken: token } = await this.tokens.fetch({
        roomName: this.room(),
        participantIdentity: this.identity(),
        ...(this.name() !== "" && { participantName: this.name() }),
      }));
      const res = this.tokens.lastResponse!;
      this.joinedAs.set(`${res.participantIdentity} in ${res.roomName}`);
      this.expires.set(expiresAtDate(res).toISOString());
      this.tokenId.set(token.slice(-12));
    } catch (err) {
      // The same mapping whether the client-side check or the server refused.
      const e = tokenErrorOf(err);
      if (e.kind === "invalid_argument" && Object.keys(e.fields).length > 0) {
        this.errors.set(e.fields);
      } else if (e.kind === "unauthenticated") {
        this.failure.set(`sign in again: ${e.message}`);
      } else if (e.kind === "permission_denied") {
        this.failure.set(`not allowed: ${e.message}`);
      } else {
        this.failure.set(`token request failed: ${e.message}`);
      }
      this.phase.set("idle");
      return;
    }

    this.phase.set("connecting");
    const { Room, RoomEvent, Track, DisconnectReason } = await loadLivekit();
    const room = new Room();
    this.lkRoom = room;
    this.disconnectReason.set("-");
    room.on(RoomEvent.ConnectionStateChanged, (state) => this.connection.set(state));
    room.on(RoomEvent.Disconnected, (reason) => this.disconnectReason.set(reason === undefined ? "unknown" : DisconnectReason[reason]));
    try {
      // No ICE servers: the LiveKit server hands out its own candidates.
      await room.connect(serverUrl, token, { rtcConfig: { iceServers: [] } });
      this.connection.set(room.state);
      await room.localParticipant.setMicrophoneEnabled(true);
      const mic = room.localParticipant.getTrackPublication(Track.Source.Microphone);
      this.microphone.set(mic ? `published ${mic.kind} track ${mic.trackSid} (${mic.source})` : "not published");
      this.phase.set("joined");
    } catch (err) {
      this.failure.set(`joining failed: ${err instanceof Error ? err.message : String(err)}`);
      this.phase.set("idle");
      await room.disconnect();
      this.lkRoom = undefined;
    }
  }

  /** The token grants the microphone only: LiveKit must refuse a camera. */
  protected async tryCamera(): Promise<void> {
    const room = this.lkRoom;
    if (!room) {
      return;
    }
    this.camera.set("trying");
    const { Track } = await loadLivekit();
    try {
      await room.localParticipant.setCameraEnabled(true);
      const cam = room.localParticipant.getTrackPublication(Track.Source.Camera);
      this.camera.set(cam ? `published ${cam.trackSid} (the token should have forbidden it)` : "not published");
    } catch (err) {
      this.camera.set(`refused: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
  }

  protected async leave(): Promise<void> {
    await this.lkRoom?.disconnect();
    this.lkRoom = undefined;
    this.microphone.set("off");
    this.camera.set("off");
    this.phase.set("left");
  }

  ngOnDestroy(): void {
    void this.lkRoom?.disconnect();
  }
}
