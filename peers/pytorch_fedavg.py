#!/usr/bin/python3
"""fedspark's PyTorch peer: the FedAvg experiment `fedspark bench` runs, as plain Python: one process (with --threads
torch threads), or --processes worker processes each training its share of a round's clients, the parent averaging.

It is what a researcher writes without a framework, and what `fedspark bench` times fedspark against: the
data files read into tensors (--format: MNIST-format IDX files, CIFAR-10's binary batches, or LEAF's Shakespeare
JSON, in the order fedspark reads them), the training set dealt to K clients (iid or shards, seeded; natural: one
client per Shakespeare speaking role), then per round
m = max(1, round(C K)) clients sampled without replacement, each running E epochs of minibatch SGD (B examples,
learning rate lr, optional momentum) from the global model, and the global model set to the n_k / n weighted
mean of their models. A client's minibatch order is seeded by (seed, round, client), so the number of processes
changes nothing but the order of the sum (multiprocessing's fork start: each worker holds the clients' tensors from
the start, and gets the global model and its clients each round). Models are PyTorch's versions of fedspark's definitions of the same names (PyTorch's
default initialisation).

Output, on stdout: a header line, then one CSV line per round
  round,clients,examples,train_loss,test_loss,test_accuracy,seconds
where seconds is the round's training (sampling to the new global model), not its evaluation; notes on stderr.

Needs Debian's python3-torch (apt-get install -y python3-torch libopenblas0-pthread); run by
`bin/fedspark bench CONF`, or by hand:
  /usr/bin/python3 peers/pytorch_fedavg.py --data /usr/share/datasets/fashion-mnist --rounds 2
  /usr/bin/python3 peers/pytorch_fedavg.py --data /usr/share/datasets/fashion-mnist --rounds 2 --processes 2
  /usr/bin/python3 peers/pytorch_fedavg.py --format cifar10 --data data/bench/cifar10 --model cifar-cnn --rounds 2
  /usr/bin/python3 peers/pytorch_fedavg.py --format shakespeare --data data/bench/shakespeare --model shakespeare-lstm \
      --split natural --E 1 --rounds 2
(peers/bench_data.py writes data/bench/.)
"""
import argparse
import glob
import gzip
import json
import multiprocessing
import os
import struct
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

COLUMNS = ('round', 'clients', 'examples', 'train_loss', 'test_loss', 'test_accuracy', 'seconds')


def idx_tensor(path):
    """The array an IDX file holds (gzipped or not), as a uint8 tensor of its dimensions."""
    if not os.path.exists(path) and os.path.exists(path + '.gz'):
        path += '.gz'
    with (gzip.open if path.endswith('.gz') else open)(path, 'rb') as f:
        raw = f.read()
    zero, kind, rank = struct.unpack('>HBB', raw[:4])
    if zero != 0 or kind != 0x08:
        sys.exit(f'{path}: not an IDX file of unsigned bytes')
    shape = struct.unpack(f'>{rank}I', raw[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(raw[4 + 4 * rank:]), dtype=torch.uint8).reshape(shape)


def dataset(folder, split):
    """(images N x 1 x 28 x 28 in [0, 1], labels N) of the 'train' or 't10k' files in folder."""
    images = idx_tensor(os.path.join(folder, f'{split}-images-idx3-ubyte'))
    labels = idx_tensor(os.path.join(folder, f'{split}-labels-idx1-ubyte'))
    return images.unsqueeze(1).float().div_(255.0), labels.long()


def cifar10(folder, split):
    """(images N x 3 x 32 x 32 in [0, 1], labels N) of CIFAR-10's binary batches: data_batch_1..5.bin in that order
    ('train') or test_batch.bin ('t10k'); a record is 1 label byte, then the red, green and blue 32x32 planes."""
    names = [f'data_batch_{b}.bin' for b in range(1, 6)] if split == 'train' else ['test_batch.bin']
    raw = bytearray()
    for name in names:
        with open(os.path.join(folder, name), 'rb') as f:
            raw += f.read()
    if len(raw) == 0 or len(raw) % (1 + 3072) != 0:
        sys.exit(f'{folder}: {len(raw)} bytes of {", ".join(names)} is not a whole number of 3,073-byte CIFAR-10 records')
    records = torch.frombuffer(raw, dtype=torch.uint8).view(-1, 1 + 3072)
    return records[:, 1:].reshape(-1, 3, 32, 32).float().div_(255.0), records[:, 0].long()


# LEAF's ALL_LETTERS, in its order (fedspark's ShakespeareSource.VOCABULARY): a character's index is its class.
VOCABULARY = "\n !\"&'(),-.0123456789:;>?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz}"


def shakespeare(folder, split):
    """(characters N x 80 as vocabulary indices, next characters N, each example's role) of LEAF's Shakespeare JSON
    files in folder/train or folder/test ('t10k'), files in name order, roles in each file's order."""
    index = {c: i for i, c in enumerate(VOCABULARY)}
    xs, ys, users = [], [], []
    files = sorted(glob.glob(os.path.join(folder, 'train' if split == 'train' else 'test', '*.json')))
    if not files:
        sys.exit(f'{folder}: no LEAF JSON files in {"train" if split == "train" else "test"}/')
    for file in files:
        with open(file, encoding='utf-8') as f:
            content = json.load(f)
        for user in content['users']:
            data = content['user_data'][user]
            xs += [[index[c] for c in x] for x in data['x']]
            ys += [index[y] for y in data['y']]
            users += [user] * len(data['y'])
    return torch.tensor(xs, dtype=torch.long), torch.tensor(ys, dtype=torch.long), users


def clients_of(labels, k, scheme, shards_per_client, generator, users=None):
    """Each client's example indices: k equal random parts (iid), s label-sorted shards each (shards), or one client
    per user in the order users first appear (natural; k is ignored)."""
    n = len(labels)
    if scheme == 'natural':
        if users is None:
            sys.exit('the natural split needs examples with a user (--format shakespeare)')
        groups = {}
        for i, user in enumerate(users):
            groups.setdefault(user, []).append(i)
        return [torch.tensor(g, dtype=torch.long) for g in groups.values()]
    if scheme == 'iid':
        return list(torch.randperm(n, generator=generator).tensor_split(k))
    if scheme == 'shards':
        by_label = torch.sort(labels, stable=True).indices
        shards = by_label.tensor_split(k * shards_per_client)
        dealt = torch.randperm(len(shards), generator=generator).view(k, shards_per_client)
        return [torch.cat([shards[j] for j in row.tolist()]) for row in dealt]
    sys.exit(f'no partition scheme {scheme} here (iid, shards, natural)')


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class CharLstm(nn.Module):
    """McMahan et al.'s Shakespeare model (fedspark's conf/models/shakespeare-lstm.conf): each character embedded in 8
    dimensions, two LSTM layers of 256 units, a linear layer over the 80 characters from the last step's output.
    819,920 parameters against fedspark's 817,872: nn.LSTM keeps two bias vectors a layer (b_ih and b_hh), DL4J's LSTM
    one; their sum is one bias a gate, the same function."""

    def __init__(self, vocabulary=80, dim=8, units=256):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, dim)
        self.lstm = nn.LSTM(dim, units, num_layers=2, batch_first=True)
        self.out = nn.Linear(units, vocabulary)

    def forward(self, x):
        steps, _ = self.lstm(self.embed(x))
        return self.out(steps[:, -1, :])


MODELS = ('2nn', 'cnn', 'niid-cnn', 'cifar-cnn', 'shakespeare-lstm')


def network(name):
    """fedspark's model of this name (models/Models.java), in PyTorch."""
    relu = nn.ReLU
    if name == '2nn':  # mcmahan-2nn: 784-200-200-10
        return nn.Sequential(Flat(), nn.Linear(784, 200), relu(), nn.Linear(200, 200), relu(), nn.Linear(200, 10))
    if name == 'cnn':  # mcmahan-cnn: 5x5x32 'same', pool, 5x5x64 'same', pool, 512, 10
        return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), relu(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 5, padding=2), relu(), nn.MaxPool2d(2),
                             Flat(), nn.Linear(64 * 7 * 7, 512), relu(), nn.Linear(512, 10))
    if name == 'niid-cnn':  # niid-cnn: 5x5x6, pool, 5x5x16, pool, 120, 84, 10, no padding
        return nn.Sequential(nn.Conv2d(1, 6, 5), relu(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), relu(), nn.MaxPool2d(2),
                             Flat(), nn.Linear(16 * 4 * 4, 120), relu(), nn.Linear(120, 84), relu(), nn.Linear(84, 10))
    if name == 'cifar-cnn':  # niid-cnn on 3x32x32 (conf/models/cifar10-cnn.conf): 62,006 parameters
        return nn.Sequential(nn.Conv2d(3, 6, 5), relu(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), relu(), nn.MaxPool2d(2),
                             Flat(), nn.Linear(16 * 5 * 5, 120), relu(), nn.Linear(120, 84), relu(), nn.Linear(84, 10))
    if name == 'shakespeare-lstm':  # conf/models/shakespeare-lstm.conf
        return CharLstm()
    sys.exit(f'no model {name} here ({", ".join(MODELS)})')


def local_update(model, x, y, epochs, batch, lr, momentum, generator):
    """E epochs of minibatch SGD on one client's examples, in place; the sum of minibatch losses times their sizes."""
    step = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    n = len(y)
    size = n if batch <= 0 else batch
    loss_sum = 0.0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, size):
            rows = order[start:start + size]
            step.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x[rows]), y[rows])
            loss.backward()
            step.step()
            loss_sum += loss.item() * len(rows)
    return loss_sum


# What a round's training reads: the clients' tensors and the settings (set before the worker processes fork).
ROUND = {}


def train_share(params, share, r):
    """Trains the clients in share from the global parameters params in round r; (the sums of their parameters
    weighted by n_k, the examples they hold, their loss sum)."""
    a, shards = ROUND['args'], ROUND['shards']
    if 'worker' not in ROUND:
        ROUND['worker'] = network(a.model)
    worker = ROUND['worker']
    weighted = [torch.zeros_like(p) for p in params]
    examples, loss_sum = 0, 0.0
    for k in share:
        x, y = shards[k]
        if len(y) == 0:
            continue
        with torch.no_grad():
            for w, p in zip(worker.parameters(), params):
                w.copy_(p)
        shuffling = torch.Generator().manual_seed((a.seed * 1_000_003 + r) * 1_000_003 + k)
        loss_sum += local_update(worker, x, y, a.E, a.B, a.lr, a.momentum, shuffling)
        with torch.no_grad():
            for total, p in zip(weighted, worker.parameters()):
                total.add_(p, alpha=len(y))
        examples += len(y)
    return weighted, examples, loss_sum


@torch.no_grad()
def evaluate(model, x, y, chunk=1000):
    """(mean cross-entropy, accuracy) on a test set, a chunk of examples at a time."""
    loss, right = 0.0, 0
    for start in range(0, len(y), chunk):
        out = model(x[start:start + chunk])
        loss += F.cross_entropy(out, y[start:start + chunk], reduction='sum').item()
        right += (out.argmax(1) == y[start:start + chunk]).sum().item()
    return loss / len(y), right / len(y)


def arguments():
    p = argparse.ArgumentParser(description='FedAvg in one PyTorch process (fedspark bench\'s peer).')
    p.add_argument('--data', default='/usr/share/datasets/fashion-mnist', help='folder of the data files')
    p.add_argument('--format', default='idx', choices=('idx', 'cifar10', 'shakespeare'),
                   help='MNIST-format IDX files, CIFAR-10 binary batches, or LEAF Shakespeare JSON in train/ and test/')
    p.add_argument('--model', default='2nn', choices=MODELS)
    p.add_argument('--split', default='iid', choices=('iid', 'shards', 'natural'))
    p.add_argument('--K', type=int, default=100, help='clients')
    p.add_argument('--shards-per-client', type=int, default=2)
    p.add_argument('--C', type=float, default=0.1, help='fraction of clients a round (C = 0: one)')
    p.add_argument('--E', type=int, default=5, help='local epochs')
    p.add_argument('--B', type=int, default=10, help='local minibatch, 0 for the whole local set')
    p.add_argument('--lr', type=float, default=0.05)
    p.add_argument('--momentum', type=float, default=0.0)
    p.add_argument('--rounds', type=int, default=20)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--threads', type=int, default=1, help='torch threads (of each process)')
    p.add_argument('--processes', type=int, default=1, help='processes training a round\'s clients, each its share')
    return p.parse_args()


def main():
    a = arguments()
    if a.processes < 1 or a.threads < 1:
        sys.exit(f'--processes and --threads must be at least 1, got {a.processes} and {a.threads}')
    began = time.time()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)  # the models' initialisation
    users = None
    if a.format == 'idx':
        train_x, train_y = dataset(a.data, 'train')
        test_x, test_y = dataset(a.data, 't10k')
    elif a.format == 'cifar10':
        train_x, train_y = cifar10(a.data, 'train')
        test_x, test_y = cifar10(a.data, 't10k')
    else:
        train_x, train_y, users = shakespeare(a.data, 'train')
        test_x, test_y, _ = shakespeare(a.data, 't10k')
    clients = clients_of(train_y, a.K, a.split, a.shards_per_client, torch.Generator().manual_seed(a.seed), users)
    a.K = len(clients)
    # each client's own copy, as a client holds its data; worker processes inherit them at fork
    ROUND.update(shards=[(train_x[i], train_y[i]) for i in clients], args=a)
    global_model = network(a.model)
    m = max(1, round(a.C * a.K))
    sampling = torch.Generator().manual_seed(a.seed + 1)
    print(f'# peer: torch {torch.__version__}, {a.processes} process(es) of {torch.get_num_threads()} thread(s), K={a.K} m={m}, '
          f'{sum(p.numel() for p in global_model.parameters())} parameters, ready in {time.time() - began:.2f} s',
          file=sys.stderr)
    print(','.join(COLUMNS), flush=True)
    pool = multiprocessing.get_context('fork').Pool(a.processes, initializer=torch.set_num_threads, initargs=(a.threads,)) \
        if a.processes > 1 else None
    for r in range(1, a.rounds + 1):
        start = time.time()
        chosen = torch.randperm(a.K, generator=sampling)[:m].tolist()
        params = [p.detach() for p in global_model.parameters()]
        if pool is None:
            parts = [train_share(params, chosen, r)]
        else:  # contiguous shares, one a process, summed in share order
            shares = [chosen[len(chosen) * i // a.processes:len(chosen) * (i + 1) // a.processes] for i in range(a.processes)]
            parts = pool.starmap(train_share, [(params, share, r) for share in shares])
        examples = sum(part[1] for part in parts)
        loss_sum = sum(part[2] for part in parts)
        if examples:
            with torch.no_grad():
                for i, p in enumerate(global_model.parameters()):
                    p.copy_(sum(part[0][i] for part in parts) / examples)
        seconds = time.time() - start
        test_loss, accuracy = evaluate(global_model, test_x, test_y)
        train_loss = loss_sum / max(1, examples * a.E)
        print(f'{r},{len(chosen)},{examples},{train_loss:.5f},{test_loss:.5f},{accuracy:.4f},{seconds:.3f}', flush=True)
    if pool is not None:
        pool.close()
        pool.join()
    print(f'# peer: {a.rounds} rounds, {time.time() - began:.1f} s in all', file=sys.stderr)


if __name__ == '__main__':
    main()
