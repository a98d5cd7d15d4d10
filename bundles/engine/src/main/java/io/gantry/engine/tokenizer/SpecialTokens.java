package io.gantry.engine.tokenizer;

import java.util.Set;

/**
 * A vocabulary's special token ids (-1 where it has none) and when encoding adds them.
 *
 * @param bosId beginning of sequence
 * @param eosId end of sequence
 * @param padId padding
 * @param addBos whether encoding with special tokens puts BOS first
 * @param addEos whether encoding with special tokens puts EOS last
 * @param endOfGeneration every token whose generation ends a reply
 */
record SpecialTokens(int bosId, int eosId, int padId, boolean addBos, boolean addEos, Set<Integer> endOfGeneration) {

    /** Drops the add flags for missing tokens and copies the set. */
    SpecialTokens {
        addBos = addBos && bosId >= 0;
        addEos = addEos && eosId >= 0;
        endOfGeneration = Set.copyOf(endOfGeneration);
    }
}
