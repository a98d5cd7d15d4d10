package io.gantry.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A {@link Tokenizer} over a {@link Vocabulary}: special tokens are cut out of the text first, and a
 * {@link FragmentEncoder} encodes the plain text between them. Immutable and thread-safe.
 */
final class VocabularyTokenizer implements Tokenizer {

    private static final byte[] NOTHING = new byte[0];

    private final Vocabulary vocabulary;
    private final FragmentEncoder encoder;
    private final SpecialTokenSplitter splitter;
    private final SpecialTokens specials;
    /** What each token decodes to, control and unknown tokens written as their text. */
    private final byte[][] pieces;

    VocabularyTokenizer(Vocabulary vocabulary, FragmentEncoder encoder, SpecialTokens specials) {
        this.vocabulary = vocabulary;
        this.encoder = encoder;
        this.splitter = new SpecialTokenSplitter(vocabulary);
        this.specials = specials;
        this.pieces = new byte[vocabulary.size()][];
        for (int id = 0; id < pieces.length; id++) {
            String text = vocabulary.text(id);
            pieces[id] = switch (vocabulary.type(id)) {
                case NORMAL, BYTE -> encoder.pieceBytes(text, vocabulary.type(id));
                case CONTROL, UNKNOWN, USER_DEFINED -> text.getBytes(StandardCharsets.UTF_8);
                case UNUSED, UNDEFINED -> NOTHING;
            };
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecial, boolean parseSpecial) {
        IntList ids = new IntList();
        if (addSpecial && specials.addBos()) {
            ids.add(specials.bosId());
        }
        boolean startsText = true;
        for (SpecialTokenSplitter.Fragment fragment : splitter.split(text, parseSpecial)) {
            if (fragment.isText()) {
                encoder.encode(text.substring(fragment.start(), fragment.end()), startsText, ids);
                startsText = false;
            } else {
                ids.add(fragment.token());
                startsText = true;
            }
        }
        if (addSpecial && specials.addEos()) {
            ids.add(specials.eosId());
        }
        return ids.toArray();
    }

    @Override
    public String decode(int[] ids, boolean renderSpecial) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            bytes.writeBytes(piece(id, renderSpecial));
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        return encoder.addsSpacePrefix() && text.startsWith(" ") ? text.substring(1) : text;
    }

    @Override
    public byte[] tokenBytes(int id, boolean renderSpecial) {
        return piece(id, renderSpecial).clone();
    }

    private byte[] piece(int id, boolean renderSpecial) {
        TokenType type = vocabulary.type(id);
        boolean hidden = !renderSpecial && (type == TokenType.CONTROL || type == TokenType.UNKNOWN);
        return hidden ? NOTHING : pieces[id];
    }

    @Override
    public String tokenText(int id) {
        return vocabulary.text(id);
    }

    @Override
    public TokenType tokenType(int id) {
        return vocabulary.type(id);
    }

    @Override
    public boolean isEndOfGeneration(int id) {
        return specials.endOfGeneration().contains(vocabulary.checked(id));
    }

    @Override
    public int vocabularySize() {
        return vocabulary.size();
    }

    @Override
    public int bosId() {
        return specials.bosId();
    }

    @Override
    public int eosId() {
        return specials.eosId();
    }

    @Override
    public int padId() {
        return specials.padId();
    }

    @Override
    public boolean addsBos() {
        return specials.addBos();
    }

    @Override
    public boolean addsEos() {
        return specials.addEos();
    }
}
