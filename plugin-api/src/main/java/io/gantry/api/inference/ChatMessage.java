package io.gantry.api.inference;

/**
 * One message of a chat conversation.
 *
 * @param role    {@code system}, {@code user}, {@code assistant} (or another role the model's template knows)
 * @param content the message text
 */
public record ChatMessage(String role, String content) {

    /** Checks that role and content are present. */
    public ChatMessage {
        if (role == null || role.isBlank()) {
            throw new IllegalArgumentException("A chat message needs a role");
        }
        if (content == null) {
            throw new IllegalArgumentException("A chat message needs content (it may be empty)");
        }
    }
}
